/* Progressive enhancement for every page: theme toggle, collapsing menu, account menu, copy buttons,
   avatar preview. Every feature also works (or degrades to something usable) without this file. */
(function () {
  "use strict";

  var STORAGE_KEY = "mm-theme";
  var root = document.documentElement;
  var systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function currentTheme() {
    var explicit = root.getAttribute("data-theme");
    if (explicit === "light" || explicit === "dark") return explicit;
    return systemDark && systemDark.matches ? "dark" : "light";
  }

  function syncThemeButtons() {
    var dark = currentTheme() === "dark";
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-pressed", dark ? "true" : "false");
    });
  }

  function setTheme(theme) {
    root.setAttribute("data-theme", theme);
    try {
      window.localStorage.setItem(STORAGE_KEY, theme);
    } catch (error) {
      /* Not persisted, but still applied for this page. */
    }
    syncThemeButtons();
  }

  function initTheme() {
    syncThemeButtons();
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.addEventListener("click", function () {
        setTheme(currentTheme() === "dark" ? "light" : "dark");
      });
    });
    if (systemDark && systemDark.addEventListener) {
      systemDark.addEventListener("change", syncThemeButtons);
    }
  }

  function initNavToggle() {
    var toggle = document.querySelector("[data-nav-toggle]");
    if (!toggle) return;
    var panel = document.getElementById(toggle.getAttribute("aria-controls"));
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      panel.classList.toggle("is-open", open);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        toggle.setAttribute("aria-expanded", "false");
        panel.classList.remove("is-open");
        toggle.focus();
      }
    });
  }

  function initMenus() {
    var menus = document.querySelectorAll("details[data-menu]");
    document.addEventListener("click", function (event) {
      menus.forEach(function (menu) {
        if (menu.open && !menu.contains(event.target)) menu.open = false;
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      menus.forEach(function (menu) {
        if (menu.open) {
          menu.open = false;
          menu.querySelector("summary").focus();
        }
      });
    });
  }

  function initCopyButtons() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-copy-target]");
      if (!button) return;
      var source = document.getElementById(button.getAttribute("data-copy-target"));
      if (!source) return;
      var text = source.value !== undefined ? source.value : source.textContent;
      var status = document.getElementById(button.getAttribute("data-copy-status"));
      function done(message) {
        if (status) status.textContent = message;
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text.trim()).then(
          function () { done("Copied to the clipboard."); },
          function () { done("Copy failed: select the key and copy it by hand."); }
        );
      } else if (source.select) {
        source.select();
        done(document.execCommand && document.execCommand("copy") ? "Copied to the clipboard." : "Key selected: press Ctrl+C to copy.");
      }
    });
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function initAvatarPreview() {
    var input = document.querySelector("[data-avatar-input]");
    var preview = document.querySelector("[data-avatar-preview]");
    if (!input || !preview || !window.FileReader) return;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file || !/^image\//.test(file.type)) return;
      var reader = new FileReader();
      reader.addEventListener("load", function () {
        preview.src = reader.result;
        preview.hidden = false;
        var placeholder = document.querySelector("[data-avatar-placeholder]");
        if (placeholder) placeholder.hidden = true;
      });
      reader.readAsDataURL(file);
    });
  }

  function init() {
    initTheme();
    initNavToggle();
    initMenus();
    initCopyButtons();
    initAvatarPreview();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
