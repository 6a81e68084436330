// The product page's image drop zone: drag files onto it or click to choose them, and see
// previews before uploading. Without this file it is a plain file input and an Upload button.
// The server checks every file again (type, size, Pillow re-encode); these checks only warn early.
// Its warnings come translated from the page: data-text-bad-type, -too-large and -too-many on the
// [data-dropzone] form.
(function () {
  "use strict";

  var TYPES = ["image/jpeg", "image/png", "image/webp"];

  function setUp(form) {
    form.setAttribute("data-dropzone-ready", "");
    var zone = form.querySelector("[data-dropzone-zone]");
    var input = form.querySelector("input[type=file]");
    var list = form.querySelector("[data-dropzone-previews]");
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10) || 0;
    var maxFiles = parseInt(input.getAttribute("data-max-files"), 10) || 0;
    form.classList.add("dropzone--enhanced");
    form.querySelectorAll("[data-dropzone-drag]").forEach(function (el) { el.hidden = false; });
    form.querySelectorAll("[data-dropzone-nodrag]").forEach(function (el) { el.hidden = true; });

    function problem(file, index) {
      if (TYPES.indexOf(file.type) === -1) { return form.getAttribute("data-text-bad-type"); }
      if (maxBytes && file.size > maxBytes) { return form.getAttribute("data-text-too-large"); }
      if (maxFiles && index >= maxFiles) { return form.getAttribute("data-text-too-many"); }
      return "";
    }

    function preview() {
      list.replaceChildren();
      Array.prototype.forEach.call(input.files, function (file, index) {
        var item = document.createElement("li");
        item.className = "dropzone__preview";
        var why = problem(file, index);
        if (why) {
          item.classList.add("dropzone__preview--bad");
        } else {
          var img = document.createElement("img");
          img.alt = "";
          item.append(img);
          // A data: URL, which the page's Content-Security-Policy allows for images.
          var reader = new FileReader();
          reader.addEventListener("load", function () { img.src = reader.result; });
          reader.readAsDataURL(file);
        }
        var name = document.createElement("span");
        name.textContent = file.name + (why ? ": " + why : "");
        item.append(name);
        list.append(item);
      });
    }

    input.addEventListener("change", preview);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        form.classList.add("dropzone--over");
      });
    });
    ["dragleave", "dragend", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { form.classList.remove("dropzone--over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
      input.files = event.dataTransfer.files;
      preview();
      input.focus();
    });
  }

  function init(root) {
    root.querySelectorAll("[data-dropzone]:not([data-dropzone-ready])").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
