// The product form's category picker: a text box filters the checkbox list, and the chosen
// categories show as chips that remove themselves. Without this file the list works as it is.
// Its words come translated from the page: data-text-matches-one/-other ("{n} categories match")
// and data-text-remove ("Remove {name}") on the [data-category-picker] element.
(function () {
  "use strict";

  function setUp(picker) {
    picker.setAttribute("data-picker-ready", "");
    var search = picker.querySelector("[data-picker-search]");
    var box = search.querySelector("input");
    var status = picker.querySelector("[data-picker-status]");
    var chips = picker.querySelector("[data-picker-chips]");
    var empty = picker.querySelector("[data-picker-empty]");
    var items = Array.prototype.slice.call(picker.querySelectorAll("[data-picker-item]"));

    function text(name, values) {
      var words = picker.getAttribute("data-text-" + name) || "";
      return words.replace(/\{(\w+)\}/g, function (whole, key) {
        return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : whole;
      });
    }

    function checkbox(item) { return item.querySelector("input[type=checkbox]"); }

    function showChips() {
      chips.replaceChildren();
      items.forEach(function (item) {
        var input = checkbox(item);
        if (!input.checked) { return; }
        var path = item.getAttribute("data-path");
        var chip = document.createElement("li");
        chip.className = "category-picker__chip";
        var name = document.createElement("span");
        name.textContent = path;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", text("remove", { name: path }));
        remove.addEventListener("click", function () {
          input.checked = false;
          showChips();
          var next = chips.querySelector("button");
          (next || box).focus();
        });
        chip.append(name, remove);
        chips.append(chip);
      });
      chips.hidden = !chips.children.length;
    }

    function filter() {
      var words = box.value.trim().toLowerCase();
      var shown = 0;
      items.forEach(function (item) {
        var match = !words || item.getAttribute("data-path").toLowerCase().indexOf(words) !== -1;
        item.hidden = !match;
        if (match) { shown += 1; }
      });
      empty.hidden = shown > 0;
      // The page's language decides the form: English and German say "1 category", Indonesian
      // has one form for every number.
      var count = shown.toLocaleString(document.documentElement.lang || undefined);
      status.textContent = words ? text(shown === 1 ? "matches-one" : "matches-other", { n: count }) : "";
    }

    box.addEventListener("input", filter);
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        // Enter chooses the first match instead of submitting the whole product form.
        event.preventDefault();
        var first = items.find(function (item) { return !item.hidden; });
        if (first && box.value.trim()) {
          checkbox(first).checked = true;
          box.value = "";
          filter();
          showChips();
        }
      } else if (event.key === "Escape" && box.value) {
        event.preventDefault();
        box.value = "";
        filter();
      }
    });
    picker.addEventListener("change", function (event) {
      if (event.target.matches("input[type=checkbox]")) { showChips(); }
    });
    search.hidden = false;
    showChips();
  }

  function init(root) {
    root.querySelectorAll("[data-category-picker]:not([data-picker-ready])").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
