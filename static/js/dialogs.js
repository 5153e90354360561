// Confirm dialogs (native <dialog>: modal, focus stays inside and starts on Cancel, Escape closes)
// and the scope picker (enabled only for "Hide only selected" / "Show only selected").
(function () {
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      // Opened from a "•••" menu: close it, and give the focus back to its button afterwards.
      var root = opener.closest("[data-menu-root]");
      var back = root ? root.querySelector("[data-menu]") : opener;
      if (root) window.IssueSyncMenus.close(root);
      dialog.showModal();
      dialog.addEventListener("close", function () { if (document.contains(back)) back.focus(); }, { once: true });
      // Focus starts on Cancel: Enter right after opening must not destroy anything.
      var cancel = dialog.querySelector("[data-dialog-close]");
      if (cancel) cancel.focus();
    }
    var closer = e.target.closest("[data-dialog-close]");
    if (closer) closer.closest("dialog").close();
  });

  // Tab and Shift+Tab cycle inside an open dialog instead of leaving for the browser's own UI.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Tab") return;
    var dialog = document.querySelector("dialog[open]");
    if (!dialog) return;
    var items = Array.prototype.slice.call(dialog.querySelectorAll("button, a[href], input, select, textarea"))
      .filter(function (el) { return !el.disabled && el.type !== "hidden"; });
    if (!items.length) return;
    var i = items.indexOf(document.activeElement);
    var next = e.shiftKey ? (i <= 0 ? items.length - 1 : i - 1) : (i === items.length - 1 ? 0 : i + 1);
    e.preventDefault();
    items[next].focus();
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
