// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Keep the current tab (e.g. the selected day) visible in a horizontally scrolling strip.
  function revealCurrentTabs(root) {
    root.querySelectorAll(".tabs [aria-current]").forEach(function (el) {
      var strip = el.closest(".tabs");
      if (strip && strip.scrollWidth > strip.clientWidth) {
        strip.scrollLeft = el.offsetLeft - (strip.clientWidth - el.offsetWidth) / 2;
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { revealCurrentTabs(document); });
  document.addEventListener("htmx:afterSwap", function (e) { revealCurrentTabs(e.target); });
})();
