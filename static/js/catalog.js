/* Catalog enhancements: the header search box's suggestion list (an ARIA combobox filled by htmx) and tidy,
   shareable catalog URLs (empty filters are left out of the query string). Without JavaScript the header search
   submits to /models/ and the catalog's filter form submits normally. */
(function () {
  "use strict";

  function initCombobox(form) {
    var input = form.querySelector("[role=combobox]");
    var listbox = document.getElementById(input.getAttribute("aria-controls"));
    if (!input || !listbox) return;
    var active = -1;

    function options() {
      return Array.prototype.slice.call(listbox.querySelectorAll("[role=option]"));
    }

    function setActive(index) {
      var items = options();
      items.forEach(function (item, position) {
        item.setAttribute("aria-selected", position === index ? "true" : "false");
        item.classList.toggle("is-active", position === index);
      });
      active = index;
      if (index >= 0 && items[index]) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function open() {
      var hasOptions = options().length > 0 && input.value.trim().length >= 2;
      listbox.hidden = !hasOptions;
      input.setAttribute("aria-expanded", hasOptions ? "true" : "false");
      setActive(-1);
    }

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      setActive(-1);
    }

    function go(option) {
      var href = option && option.getAttribute("data-href");
      if (href) window.location.assign(href);
    }

    listbox.addEventListener("htmx:afterSwap", open);
    input.addEventListener("input", function () {
      if (input.value.trim().length < 2) close();
    });

    input.addEventListener("keydown", function (event) {
      var items = options();
      var expanded = !listbox.hidden;
      if (event.key === "ArrowDown") {
        if (!items.length) return;
        event.preventDefault();
        if (!expanded) open();
        setActive(active + 1 >= items.length ? 0 : active + 1);
      } else if (event.key === "ArrowUp") {
        if (!items.length) return;
        event.preventDefault();
        if (!expanded) open();
        setActive(active <= 0 ? items.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (expanded && active >= 0 && items[active]) {
          event.preventDefault();
          go(items[active]);
        }
      } else if (event.key === "Escape") {
        if (expanded) {
          event.preventDefault();
          event.stopPropagation();
          close();
        }
      }
    });

    // mousedown, not click: it runs before the input's blur closes the list.
    listbox.addEventListener("mousedown", function (event) {
      var option = event.target.closest("[role=option]");
      if (!option) return;
      event.preventDefault();
      go(option);
    });

    input.addEventListener("blur", close);
    input.addEventListener("focus", function () {
      if (options().length && input.value.trim().length >= 2) open();
    });
  }

  function initCatalogForm() {
    // Leave empty filters out of the request, so the URL that htmx pushes reads like the one a person would share.
    document.body.addEventListener("htmx:configRequest", function (event) {
      var source = event.detail.elt;
      if (!source || !source.closest || !source.closest("[data-catalog-form]")) return;
      var parameters = event.detail.parameters;
      var empty = [];
      if (parameters && typeof parameters.forEach === "function") {
        parameters.forEach(function (value, name) {
          if (value === "") empty.push(name);
        });
        empty.forEach(function (name) {
          if (typeof parameters.delete === "function") parameters.delete(name);
          else delete parameters[name];
        });
      }
    });
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      var body = document.getElementById("catalog-body");
      if (body && event.detail.target === body) body.setAttribute("aria-busy", "true");
    });
    document.body.addEventListener("htmx:afterSettle", function (event) {
      var body = document.getElementById("catalog-body");
      if (body && event.detail.target === body) body.setAttribute("aria-busy", "false");
    });
  }

  // On small screens the facets start folded (they would push the results a screen down); whatever the person
  // chooses then survives the swaps that live filtering makes.
  function initFacetsDisclosure() {
    var small = window.matchMedia && window.matchMedia("(max-width: 760px)").matches;
    var open = !small;
    function apply() {
      var details = document.querySelector("[data-facets]");
      if (details) details.open = open;
    }
    apply();
    document.addEventListener("toggle", function (event) {
      if (event.target.matches && event.target.matches("[data-facets]")) open = event.target.open;
    }, true);
    document.body.addEventListener("htmx:afterSwap", apply);
  }

  function init() {
    document.querySelectorAll("form[data-autocomplete]").forEach(initCombobox);
    initCatalogForm();
    initFacetsDisclosure();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
