// The mapping editor: rows added and removed (renumbered for Django's formsets), and only the
// partner fields whose type can take this site's field offered on each row.
(function () {
  function renumber(tbody) {
    var prefix = tbody.getAttribute("data-rows");
    var label = tbody.getAttribute("data-row-label");
    var pattern = new RegExp(prefix + "-(\\d+|__prefix__)-");
    var rows = tbody.querySelectorAll("tr[data-row]");
    rows.forEach(function (row, i) {
      row.querySelectorAll("[name], [id], label[for], [aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(pattern, prefix + "-" + i + "-"));
        });
      });
      row.querySelectorAll("[data-row-number]").forEach(function (n) { n.textContent = String(i + 1); });
      row.querySelector("[data-remove-row]").setAttribute("aria-label", "Remove " + label + " " + (i + 1));
    });
    document.getElementById("id_" + prefix + "-TOTAL_FORMS").value = String(rows.length);
  }

  // keepChosen: on a page the server sent back, a refused pair stays chosen (its row says why).
  function offerCompatible(row, keepChosen) {
    var local = row.querySelector("[data-local-field]");
    var partner = row.querySelector("[data-partner-field]");
    if (!local || !partner) return;
    var chosen = local.options[local.selectedIndex];
    var accepts = chosen && chosen.getAttribute("data-accepts");
    Array.prototype.forEach.call(partner.options, function (option) {
      var kind = option.getAttribute("data-kind");
      var fits = !accepts || !kind || accepts.split(" ").indexOf(kind) !== -1 || (keepChosen && option.selected);
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
      offerValues(row);
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

  // A value row offers only the values of its field: this site's, and those of the partner field it
  // is paired with in the Fields table (the option lists are grouped by field name).
  function offerValues(row) {
    var field = row.querySelector("[data-value-field]");
    if (!field) return;
    var localName = field.value ? field.options[field.selectedIndex].text : "";
    var partnerName = "";
    document.querySelectorAll('[data-rows="fields"] tr[data-row]').forEach(function (pair) {
      var local = pair.querySelector("[data-local-field]");
      var partner = pair.querySelector("[data-partner-field]");
      if (field.value && local.value === field.value && partner.value) {
        partnerName = partner.options[partner.selectedIndex].text.replace(/ \([^)]*\)$/, "");
      }
    });
    [["[data-local-value]", localName], ["[data-partner-value]", partnerName]].forEach(function (pick) {
      var select = row.querySelector(pick[0]);
      select.querySelectorAll("optgroup").forEach(function (group) {
        var shown = !pick[1] || group.label === pick[1];
        group.hidden = !shown;
        group.disabled = !shown;
      });
    });
  }

  document.addEventListener("change", function (e) {
    if (e.target.matches("[data-local-field]")) offerCompatible(e.target.closest("tr"));
    if (e.target.matches("[data-value-field]")) offerValues(e.target.closest("tr"));
    if (e.target.matches("[data-local-field], [data-partner-field]")) {
      document.querySelectorAll('[data-rows="values"] tr[data-row]').forEach(offerValues);
    }
  });

  function init() {
    document.querySelectorAll("tr[data-row]").forEach(function (row) { offerCompatible(row, true); });
    document.querySelectorAll('[data-rows="values"] tr[data-row]').forEach(offerValues);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
