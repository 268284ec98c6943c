/* Runs blocking in <head>, before the first paint: applies the theme the person chose earlier, if any.
   Without a saved choice the stylesheet follows prefers-color-scheme. Also marks that JavaScript runs. */
(function () {
  var root = document.documentElement;
  root.classList.add("js");
  try {
    var saved = window.localStorage.getItem("mm-theme");
    if (saved === "light" || saved === "dark") {
      root.setAttribute("data-theme", saved);
    }
  } catch (error) {
    /* Storage can be blocked (private windows, strict settings); the system theme applies then. */
  }
})();
