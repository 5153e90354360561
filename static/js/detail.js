// The detail page keeps itself up to date without a reload and without moving under the admin.
//
// Every two seconds it asks for its content with If-None-Match: while nothing changed the answer is
// a 304 with no body. New content replaces the old only while the keyboard focus is not inside it
// and no dialog or menu is open (checked again when the answer arrives), so nothing is taken from
// under the admin's hands; otherwise it waits for the next round.
(function () {
  var box = document.querySelector("[data-live-detail]");
  if (!box) return;
  var url = box.getAttribute("data-live-url");
  var INTERVAL = 2000;
  var etag = null;
  var busy = false;

  function adminBusy() {
    return box.contains(document.activeElement) ||
      document.querySelector("dialog[open], [data-menu][aria-expanded=true]") !== null;
  }

  function poll() {
    if (busy || document.hidden || adminBusy()) return;
    busy = true;
    var headers = { "X-Live-Detail": "1" };
    if (etag) headers["If-None-Match"] = etag;
    // "no-store": the 304 must reach this code, not be turned into a 200 by the browser's cache.
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status !== 200) return null; // 304: unchanged; anything else: try again later
        etag = response.headers.get("ETag");
        return response.text();
      })
      .then(function (html) {
        if (html === null || adminBusy()) { if (html !== null) etag = null; return; }
        box.innerHTML = html;
      })
      .catch(function () { /* offline for a moment: the next round tries again */ })
      .then(function () { busy = false; });
  }

  setInterval(poll, INTERVAL);
})();
