// Keeps the deadlines of the problem-report desk and the incidents page
// current: every element with class "countdown" and data-due (RFC 3339)
// shows, once a second,
// "23h 59m 12s left" or, past its due time, "BREACHED 1h 2m ago" (the
// server renders the same text, so the page reads right without this
// script). data-now is the server's time at rendering: the browser's
// clock is corrected by it, so a skewed client clock shows the server's
// countdown.
(function () {
  "use strict";
  var els = [].slice.call(document.querySelectorAll(".countdown[data-due]"));
  if (!els.length) { return; }
  var loaded = Date.now();
  els.forEach(function (el) {
    var now = Date.parse(el.getAttribute("data-now") || "");
    el._skew = isNaN(now) ? 0 : now - loaded;
    el._due = Date.parse(el.getAttribute("data-due"));
  });
  function text(ms) {
    if (ms > 0) {
      var s = Math.floor(ms / 1000);
      return Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m " + (s % 60) + "s left";
    }
    var m = Math.floor(-ms / 60000);
    return "BREACHED " + Math.floor(m / 60) + "h " + (m % 60) + "m ago";
  }
  function tick() {
    var t = Date.now();
    els.forEach(function (el) {
      if (isNaN(el._due)) { return; }
      var left = el._due - (t + el._skew);
      el.textContent = text(left);
      el.classList.toggle("breached", left <= 0);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
