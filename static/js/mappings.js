// The mapping editor: rows added and removed (renumbered for Django's formsets), and only the
// partner fields whose type can take this site's field offered on each row.
(function () {
  function renumber(tbody) {
    var prefix = tbody.getAttribute("data-rows");
    var label = tbody.getAttribute("data-row-label");
    var pattern = new RegExp(prefix + "-(\\d+|__prefix__)-");
    var rows = tbody.querySelectorAll("tr[data-row]");
    rows.forEach(function (row, i) {
      row.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(pattern, prefix + "-" + i + "-"));
        });
      });
      row.querySelectorAll("[data-row-number]").forEach(function (n) { n.textContent = String(i + 1); });
      row.querySelector("[data-remove-row]").setAttribute("aria-label", "Remove " + label + " " + (i + 1));
    });
    document.getElementById("id_" + prefix + "-TOTAL_FORMS").value = String(rows.length);
  }

  function offerCompatible(row) {
    var local = row.querySelector("[data-local-field]");
    var partner = row.querySelector("[data-partner-field]");
    if (!local || !partner) return;
    var chosen = local.options[local.selectedIndex];
    var accepts = chosen && chosen.getAttribute("data-accepts");
    Array.prototype.forEach.call(partner.options, function (option) {
      var kind = option.getAttribute("data-kind");
      var fits = !accepts || !kind || accepts.split(" ").indexOf(kind) !== -1;
      option.disabled = !fits;
      option.hidden = !fits;
    });
    if (partner.selectedOptions.length && partner.selectedOptions[0].disabled) partner.value = "";
  }

  document.addEventListener("click", function (e) {
    var add = e.target.closest("[data-add-row]");
    if (add) {
      var prefix = add.getAttribute("data-add-row");
      var tbody = document.querySelector('[data-rows="' + prefix + '"]');
      var template = document.querySelector('[data-row-template="' + prefix + '"]');
      tbody.appendChild(template.content.firstElementChild.cloneNode(true));
      renumber(tbody);
      var row = tbody.lastElementChild;
      offerCompatible(row);
      row.querySelector("select, input").focus();
      return;
    }
    var remove = e.target.closest("[data-remove-row]");
    if (remove) {
      var body = remove.closest("tbody");
      var gone = remove.closest("tr");
      // The focus goes to the next row's Remove, else the previous row's, else the Add button.
      var next = gone.nextElementSibling || gone.previousElementSibling;
      gone.remove();
      renumber(body);
      var target = next ? next.querySelector("[data-remove-row]")
        : document.querySelector('[data-add-row="' + body.getAttribute("data-rows") + '"]');
      target.focus();
    }
  });

  document.addEventListener("change", function (e) {
    if (e.target.matches("[data-local-field]")) offerCompatible(e.target.closest("tr"));
  });

  function init() { document.querySelectorAll("tr[data-row]").forEach(offerCompatible); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
