// What every page shares: the menus (Settings, profile, "•••") from the mouse and the keyboard,
// flags that close by themselves, and the focus moved to the first invalid field of a refused form.
(function () {
  function items(root) {
    return Array.prototype.slice.call(root.querySelectorAll(".menu__list a[href], .menu__list button"));
  }
  function close(root, refocus) {
    var button = root.querySelector("[data-menu]");
    if (button.getAttribute("aria-expanded") !== "true") return;
    button.setAttribute("aria-expanded", "false");
    document.getElementById(button.getAttribute("aria-controls")).hidden = true;
    if (refocus) button.focus();
  }
  function open(root, focusIndex) {
    document.querySelectorAll("[data-menu-root]").forEach(function (other) { if (other !== root) close(other); });
    var button = root.querySelector("[data-menu]");
    button.setAttribute("aria-expanded", "true");
    document.getElementById(button.getAttribute("aria-controls")).hidden = false;
    if (focusIndex !== undefined) {
      var list = items(root);
      if (list.length) list[(focusIndex + list.length) % list.length].focus();
    }
  }
  window.IssueSyncMenus = { close: close, open: open };

  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-menu]");
    if (button) {
      var root = button.closest("[data-menu-root]");
      if (button.getAttribute("aria-expanded") === "true") close(root); else open(root);
      return;
    }
    // A click anywhere else closes any open menu.
    document.querySelectorAll("[data-menu-root]").forEach(function (root) {
      if (!root.contains(e.target)) close(root);
    });
    var dismiss = e.target.closest("[data-flag-dismiss]");
    if (dismiss) dismiss.closest(".flag").remove();
  });

  document.addEventListener("keydown", function (e) {
    var root = e.target.closest && e.target.closest("[data-menu-root]");
    if (!root) return;
    var button = root.querySelector("[data-menu]");
    var list = items(root);
    var i = list.indexOf(document.activeElement);
    var isOpen = button.getAttribute("aria-expanded") === "true";
    if (e.key === "Escape" && isOpen) { e.preventDefault(); close(root, true); }
    else if (e.key === "ArrowDown") { e.preventDefault(); if (!isOpen || i === -1) open(root, 0); else list[(i + 1) % list.length].focus(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); if (!isOpen || i === -1) open(root, -1); else list[(i - 1 + list.length) % list.length].focus(); }
    else if (e.key === "Home" && i !== -1) { e.preventDefault(); list[0].focus(); }
    else if (e.key === "End" && i !== -1) { e.preventDefault(); list[list.length - 1].focus(); }
    else if (e.key === "Tab" && isOpen) close(root);
  });

  // Success flags close by themselves after 8 s, as the design system's do, but not while the
  // pointer or the focus is on them; error flags stay until dismissed.
  function autoclose(flag) {
    var left = 8000;
    var started = Date.now();
    var timer = setTimeout(done, left);
    function done() { flag.remove(); }
    function pause() { clearTimeout(timer); left -= Date.now() - started; }
    function resume() { started = Date.now(); timer = setTimeout(done, Math.max(left, 1000)); }
    flag.addEventListener("mouseenter", pause); flag.addEventListener("focusin", pause);
    flag.addEventListener("mouseleave", resume); flag.addEventListener("focusout", resume);
  }

  function init() {
    document.querySelectorAll("[data-flag-autoclose]").forEach(autoclose);
    var form = document.querySelector("form[data-focus-invalid]");
    var first = form && form.querySelector("[data-focus-first], [aria-invalid=true]");
    if (first) first.focus();
    // A refused action's control (its reason is next to it, in its description) keeps the focus.
    var refused = document.querySelector("[data-focus-refused]");
    if (!first && refused) refused.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
