// Confirm dialogs (native <dialog>: modal, focus stays inside, Escape closes)
// and the scope picker (enabled only for "Hide only selected" / "Show only selected").
(function () {
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      dialog.showModal();
      var confirm = dialog.querySelector("button[type=submit]");
      if (confirm) confirm.focus();
    }
    var closer = e.target.closest("[data-dialog-close]");
    if (closer) closer.closest("dialog").close();
  });

  function syncPicker(scope) {
    var checked = scope.querySelector("input[name=scope_mode]:checked");
    var enabled = checked && checked.value !== "show_all";
    scope.querySelectorAll("[data-picker] input").forEach(function (input) { input.disabled = !enabled; });
    scope.querySelector("[data-picker]").classList.toggle("picker--disabled", !enabled);
  }
  function init() {
    document.querySelectorAll("[data-scope]").forEach(function (scope) {
      syncPicker(scope);
      scope.addEventListener("change", function (e) {
        if (e.target.name === "scope_mode") syncPicker(scope);
      });
      var search = scope.querySelector("[data-picker-search]");
      search.addEventListener("input", function () {
        var q = search.value.trim().toLowerCase();
        scope.querySelectorAll("[data-picker-item]").forEach(function (item) {
          item.hidden = q !== "" && item.textContent.toLowerCase().indexOf(q) === -1;
        });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
