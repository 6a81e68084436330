// The checkout's stock hold countdown (no inline scripts under the CSP). The server renders the
// time left; this ticks it down from when the page loaded (not the device clock, which may be
// wrong), shows "I need more time" in the last two minutes, and reloads the page when the hold
// runs out, so the server says what changed.
document.addEventListener("DOMContentLoaded", () => {
  const clock = document.querySelector("[data-hold-countdown]");
  if (!clock) return;
  const left = Number(clock.dataset.secondsLeft);
  if (!Number.isFinite(left)) return;
  const ends = performance.now() + left * 1000;
  const extend = document.querySelector("[data-hold-extend]");
  const tick = () => {
    const seconds = Math.max(0, Math.ceil((ends - performance.now()) / 1000));
    clock.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    if (extend && seconds <= 120) extend.hidden = false;
    if (seconds === 0) {
      clearInterval(timer);
      // A moment late on purpose: the server must see the hold as over when it answers.
      setTimeout(() => window.location.reload(), 1000);
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
});
