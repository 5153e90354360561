// The issue page's in-place editors (summary, a comment): Edit shows the form and focuses it,
// Cancel or Escape puts the text back as it was and returns the focus to Edit.
(function () {
  function scopeOf(form) { return form.closest("[data-edit-scope]"); }
  function open(button) {
    var form = document.getElementById(button.getAttribute("data-edit"));
    var scope = scopeOf(form);
    scope.querySelectorAll("[data-edit-hide]").forEach(function (el) { el.hidden = true; });
    form.hidden = false;
    button.setAttribute("aria-expanded", "true");
    var field = form.querySelector("textarea, input:not([type=hidden])");
    if (field) { field.focus(); if (field.select) field.select(); }
  }
  function close(form) {
    form.reset();
    form.hidden = true;
    var scope = scopeOf(form);
    scope.querySelectorAll("[data-edit-hide]").forEach(function (el) { el.hidden = false; });
    var button = scope.querySelector("[data-edit='" + form.id + "']");
    if (button) { button.setAttribute("aria-expanded", "false"); button.focus(); }
  }
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-edit]");
    if (opener) { open(opener); return; }
    var cancel = e.target.closest("[data-edit-cancel]");
    if (cancel) close(cancel.closest("[data-edit-form]"));
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var form = e.target.closest && e.target.closest("[data-edit-form]");
    if (form) { e.preventDefault(); close(form); }
  });
})();
