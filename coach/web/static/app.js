// Small progressive enhancements; every page works without this file.
// No inline handlers or eval: the Content-Security-Policy allows scripts from this site only.
(function () {
  "use strict";

  function startTimer(form) {
    var box = document.querySelector("[data-timer-box]");
    var face = document.querySelector("[data-timer]");
    var field = form.querySelector("[data-seconds]");
    if (!box || !face || !field) return;
    var started = Date.now();
    box.hidden = false;
    function tick() {
      var seconds = Math.floor((Date.now() - started) / 1000);
      var minutes = Math.floor(seconds / 60);
      var rest = seconds % 60;
      face.textContent = minutes + ":" + (rest < 10 ? "0" : "") + rest;
      field.value = String(seconds);
    }
    tick();
    window.setInterval(tick, 1000);
  }

  function countWords(form) {
    var area = form.querySelector("textarea[name=answer]");
    var out = form.querySelector("[data-word-count]");
    if (!area || !out) return;
    function update() {
      var words = area.value.trim() ? area.value.trim().split(/\s+/).length : 0;
      out.textContent = words === 1 ? "1 word so far." : words + " words so far.";
    }
    area.addEventListener("input", update);
    update();
  }

  function watchAutosave(form) {
    var area = form.querySelector("[data-autosave]");
    var status = document.getElementById("draft-status");
    if (!area || !status) return;
    area.addEventListener("input", function () {
      status.textContent = "Editing… (saved a moment after you pause)";
    });
    area.addEventListener("htmx:sendError", function () {
      status.textContent = "Not saved: the server cannot be reached. Your text is still here; keep this tab open.";
    });
    // Submitting ends the page; the draft is stored with the answer, so an autosave in flight can stop.
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.setAttribute("aria-disabled", "true");
        button.textContent = "Sending…";
      }
    });
  }

  function selectOnFocus() {
    document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-answer-form]");
    if (form) {
      startTimer(form);
      countWords(form);
      watchAutosave(form);
    }
    selectOnFocus();
  });
})();
