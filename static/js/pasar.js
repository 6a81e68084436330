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

  // A destructive form carries its question (app/confirmation.py): ask it here, and let the
  // request through without it. Capturing runs before htmx's own submit handler.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form instanceof HTMLFormElement && form.querySelector("input[name=confirm_step]");
    if (!question) {
      return;
    }
    if (!window.confirm(question.value)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var fields = form.querySelectorAll("input[name=confirm_step], input[name=confirm_label]");
    fields.forEach(function (field) { field.disabled = true; });
    // The request has its values by now; a form that stays on the page asks again next time.
    window.setTimeout(function () {
      fields.forEach(function (field) { field.disabled = false; });
    }, 0);
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    paintSwatches(document);
  });
  document.addEventListener("htmx:load", function (event) {
    paintSwatches(event.target);
  });
})();
