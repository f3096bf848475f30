// Small enhancements on top of server-rendered pages; every page reads the same without them.
(function () {
  "use strict";

  // Times: the server writes UTC; show them in the viewer's own time zone.
  var formats = {
    datetime: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
    date: { year: "numeric", month: "short", day: "numeric" },
    time: { hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
  };
  function localize(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.title = when.toLocaleString(undefined, formats.datetime);
      var kind = el.dataset.local;
      if (kind && formats[kind]) el.textContent = when.toLocaleString(undefined, formats[kind]);
    });
  }

  // Destructive buttons ask first: <button data-confirm="Deny this request?">. Runs before htmx
  // (capture phase), so a "no" stops both the plain form post and the htmx request.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  function showError(text, kind) {
    var box = document.getElementById("request-error");
    if (!box) return;
    box.querySelector("[data-message]").textContent = text;
    box.dataset.kind = kind;
    box.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    var close = document.querySelector("#request-error button");
    if (close) close.addEventListener("click", function () { document.getElementById("request-error").hidden = true; });
  });
  document.addEventListener("htmx:load", function (event) { localize(event.detail.elt); });

  // Live countdowns for active grants (<span data-countdown="ISO time">); the server's figure
  // stays as the text until the first tick.
  function tickCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Math.max(0, Math.floor((new Date(el.dataset.countdown) - Date.now()) / 1000));
      if (isNaN(left)) return;
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = (h ? h + " h " : "") + m + " min " + (h ? "" : s + " s");
    });
  }
  // Always ticking: a polled fragment can bring a countdown onto a page that had none.
  document.addEventListener("DOMContentLoaded", function () {
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
  });

  // A refused or invalid action answers 400/403/409 with the fragment explaining why: show it.
  // Anything else that is not a fragment (a whole error page) is reported instead of swapped.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var fragment = !/^\s*<!doctype/i.test(xhr.responseText || "");
    if ([400, 403, 409].indexOf(xhr.status) !== -1 && fragment) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    showError(status === 404
      ? "That is no longer there (404). Reload the page to see where things stand."
      : status === 429
        ? "Too many attempts in a short time (429). Nothing was changed: wait a minute, then try again."
      : status === 403
        ? "You are not allowed to do that (403). Your session may have ended: reload the page."
        : "The portal could not complete that (error " + status + "). Try again in a moment or reload the page.",
      "response");
  });
  document.addEventListener("htmx:sendError", function () {
    showError("The portal cannot be reached. Check your connection, then try again.", "send");
  });
  // The connection is back, or a later action worked: the old message no longer applies.
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = document.getElementById("request-error");
    if (!box || box.hidden || !event.detail.successful) return;
    var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
    if (box.dataset.kind === "send" || verb !== "get") box.hidden = true;
  });
})();
