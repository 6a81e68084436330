// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Store swatches carry their colour as data; CSP forbids inline style attributes.
  function paintSwatches(root) {
    root.querySelectorAll("[data-accent]").forEach(function (el) {
      var colour = el.getAttribute("data-accent");
      if (/^#[0-9a-fA-F]{6}$/.test(colour)) {
        el.style.setProperty("--swatch", colour);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    paintSwatches(document);
  });
  document.addEventListener("htmx:load", function (event) {
    paintSwatches(event.target);
  });
})();
