// The list keeps itself up to date without moving under the admin.
//
// Every two seconds it asks for its rows with If-None-Match: an unchanged list costs a 304 and no
// body. What changed is applied cell by cell, in place; a cell holding the keyboard focus waits until
// the focus leaves it. Rows that would appear, disappear or move (the list is sorted, and a partner's
// change re-sorts it) are only moved when the admin is not in the table (neither the pointer nor the
// focus is there); otherwise "N updated · Show" offers them, and nothing moves until it is pressed.
(function () {
  var box = document.querySelector("[data-live-rows]");
  if (!box) return;
  var url = box.getAttribute("data-live-url");
  var show = document.querySelector("[data-live-show]");
  var filter = document.querySelector("[data-status-filter]");
  var INTERVAL = 2000;
  var etag = null;
  var latest = null; // the newest rows received, as a detached element
  var baseline = rowsOf(box); // the rows as last laid out in full

  function rowsOf(root) {
    var rows = {};
    var order = [];
    root.querySelectorAll("tr[data-sync]").forEach(function (tr) {
      var id = tr.getAttribute("data-sync");
      rows[id] = tr;
      order.push(id);
    });
    return { rows: rows, order: order, html: order.map(function (id) { return rows[id].innerHTML; }) };
  }

  function adminInTable() {
    return box.contains(document.activeElement) || box.matches(":hover") || document.activeElement === show;
  }

  function changedSinceBaseline(fresh) {
    var n = 0;
    fresh.order.forEach(function (id) {
      var at = baseline.order.indexOf(id);
      if (at === -1 || baseline.html[at] !== fresh.rows[id].innerHTML) n += 1;
    });
    baseline.order.forEach(function (id) { if (!(id in fresh.rows)) n += 1; });
    return n;
  }

  function layOut() {
    // Everything as the server sent it; the keyboard focus, if it was on the notice, goes to the table.
    var hadFocus = document.activeElement === show;
    box.innerHTML = latest.innerHTML;
    baseline = rowsOf(box);
    show.hidden = true;
    show.textContent = "";
    if (hadFocus) box.focus();
  }

  function updateInPlace(current, fresh) {
    current.order.forEach(function (id) {
      var tr = current.rows[id];
      var next = fresh.rows[id];
      if (!next) return;
      var cells = tr.children;
      var nextCells = next.children;
      for (var i = 0; i < cells.length && i < nextCells.length; i++) {
        if (cells[i].innerHTML !== nextCells[i].innerHTML && !cells[i].contains(document.activeElement)) {
          cells[i].innerHTML = nextCells[i].innerHTML;
        }
      }
    });
  }

  function updateCounts() {
    var counts = latest.querySelector("[data-live-counts]");
    if (!counts || !filter || document.activeElement === filter) return;
    var byStatus = {};
    counts.getAttribute("data-live-counts").split(",").forEach(function (pair) {
      var kv = pair.split("=");
      byStatus[kv[0]] = kv[1];
    });
    byStatus[""] = counts.getAttribute("data-live-total");
    Array.prototype.forEach.call(filter.options, function (option) {
      if (option.value in byStatus) option.textContent = option.textContent.replace(/\(\d+\)$/, "(" + byStatus[option.value] + ")");
    });
  }

  function apply() {
    if (!latest) return;
    updateCounts();
    var current = rowsOf(box);
    var fresh = rowsOf(latest);
    var sameRows = current.order.join() === fresh.order.join();
    if (!current.order.length || !adminInTable()) {
      if (box.innerHTML !== latest.innerHTML) layOut();
      return;
    }
    updateInPlace(current, fresh);
    var pending = sameRows ? 0 : changedSinceBaseline(fresh);
    if (!sameRows) pending = Math.max(pending, 1);
    if (pending) {
      var text = pending + " updated · Show";
      if (show.textContent !== text) show.textContent = text;
      show.hidden = false;
    } else {
      show.hidden = true;
    }
  }

  function poll() {
    if (document.hidden) return setTimeout(poll, INTERVAL);
    var headers = { "X-Live-Rows": "1" };
    if (etag) headers["If-None-Match"] = etag;
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 200) {
          etag = response.headers.get("ETag");
          return response.text().then(function (html) {
            var holder = document.createElement("div");
            holder.innerHTML = html;
            latest = holder;
          });
        }
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ })
      .then(function () { apply(); setTimeout(poll, INTERVAL); });
  }

  show.addEventListener("click", function () { if (latest) layOut(); });
  // Leaving the table lets rows that waited take their places.
  box.addEventListener("mouseleave", function () { setTimeout(apply, 0); });
  box.addEventListener("focusout", function () { setTimeout(apply, 0); });
  setTimeout(poll, INTERVAL);
})();
