// Live updates (app/live/): elements refresh on the page's event stream (hx-trigger "sse:...").
// While the stream is open, the polling of elements marked data-live-poll stands down to one poll
// in 30 s (a backstop for a lost event); when it can't connect or drops, their polling carries
// on. Pages work without this file: they poll.
(function () {
  "use strict";

  function mark(event, open) {
    var source = event.target;
    if (source instanceof Element) {
      if (open) {
        source.setAttribute("data-live", "open");
      } else {
        source.removeAttribute("data-live");
      }
    }
  }

  // A stream that ends (its time is up, the process holds all it may, the store closed) is
  // routine: the extension reconnects, and polling covers the gap. Its handler would hand the
  // browser's error Event to htmx, which writes it to the console as an error; the handler gets
  // no Event here, so htmx:sseError still fires (and the code below hears it) without that.
  if (window.htmx && window.EventSource) {
    htmx.createEventSource = function (url) {
      var source = new EventSource(url, { withCredentials: true });
      var handler = null;
      Object.defineProperty(source, "onerror", {
        configurable: true,
        get: function () { return handler; },
        set: function (fn) { handler = fn; },
      });
      source.addEventListener("error", function () {
        if (typeof handler === "function") {
          handler.call(source);
        }
      });
      return source;
    };
  }

  // A live refresh must not throw away what the shopper is typing (a coupon code in the
  // checkout summary): while a field in the panel has focus or unsent text, the refresh is not
  // swapped in; the next event, or the shopper's own submit, brings the panel up to date.
  function busy(element) {
    var active = document.activeElement;
    if (active && active !== document.body && element.contains(active) && active.form) {
      return true;
    }
    var fields = element.querySelectorAll("input[type=text], input:not([type]), textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) {
        return true;
      }
    }
    return false;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var config = event.detail.requestConfig;
    var trigger = config && config.triggeringEvent;
    var live = trigger && String(trigger.type).indexOf("sse:") === 0;
    if (live && event.detail.elt instanceof Element && busy(event.detail.elt)) {
      event.detail.shouldSwap = false;
    }
  });

  document.addEventListener("htmx:sseOpen", function (event) { mark(event, true); });
  document.addEventListener("htmx:sseError", function (event) { mark(event, false); });
  document.addEventListener("htmx:sseClose", function (event) { mark(event, false); });

  // Remember the last event heard in the stream's URL: when the extension has to open a new
  // connection (after an error), the server replays only what came after it.
  document.addEventListener("htmx:sseMessage", function (event) {
    var id = event.detail && event.detail.lastEventId;
    var source = event.target instanceof Element && event.target.closest("[sse-connect]");
    if (!id || !source) {
      return;
    }
    var url = new URL(source.getAttribute("sse-connect"), window.location.href);
    url.searchParams.set("since", id);
    source.setAttribute("sse-connect", url.pathname + url.search);
  });

  // An event that arrives while the panel's previous refresh is still in flight is dropped by
  // htmx (hx-sync's default): note it, and refresh the panel again once that one has settled,
  // or the panel would show the state from before the last event (a progress bar stuck short
  // of done) with nothing left to move it.
  var missed = {};
  function refreshMissed() {
    Object.keys(missed).forEach(function (id) {
      var element = document.getElementById(id);
      if (!element) {
        delete missed[id];
      } else if (!element.classList.contains("htmx-request")) {
        var name = missed[id];
        delete missed[id];
        htmx.trigger(element, name);
      }
    });
  }
  document.addEventListener("htmx:afterSettle", refreshMissed);

  // While the stream is open a poll (an "every" timer or a "load delay") stands down, except
  // one every BACKSTOP_MS per element (or the milliseconds its data-live-poll names: a progress
  // bar someone is watching says 5000): the stream is a hint, and an event can be lost on the
  // way (Redis pub/sub delivers at most once; a listener reconnecting misses what was sent
  // meanwhile; an event that lands while its panel is being swapped), which would leave a panel
  // (a progress bar short of done) stale for good.
  var BACKSTOP_MS = 30000;
  var lastAsked = new WeakMap();

  // After any request: the panel was just refreshed (the backstop's clock starts again), and an
  // event that came while it was in flight is asked for now.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail && event.detail.elt instanceof Element) {
      lastAsked.set(event.detail.elt, Date.now());
    }
    window.setTimeout(refreshMissed, 50);
  });
  function standDown(element) {
    var now = Date.now();
    if (!lastAsked.has(element)) {
      lastAsked.set(element, now); // new on the page (or just swapped in): fresh
      return true;
    }
    var backstop = parseInt(element.getAttribute("data-live-poll"), 10) || BACKSTOP_MS;
    if (now - lastAsked.get(element) < backstop) {
      return true;
    }
    lastAsked.set(element, now);
    return false;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var element = event.detail.elt;
    var trigger = event.detail.triggeringEvent;
    var live = trigger && String(trigger.type).indexOf("sse:") === 0;
    if (live && element && element.id && element.classList.contains("htmx-request")) {
      missed[element.id] = trigger.type;
      return;
    }
    if (!element || !element.hasAttribute("data-live-poll") || live) {
      return;
    }
    var source = element.closest("[sse-connect]");
    if (source && source.getAttribute("data-live") === "open" && standDown(element)) {
      event.preventDefault();
    }
  });
})();
