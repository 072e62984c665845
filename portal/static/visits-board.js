// The live board on the desk's monitor reloads itself every 30 seconds; the button stops and
// restarts that (a page must not refresh under a reader who did not ask for it). Without
// script the board is the same, refreshed by its link.
(function () {
  var button = document.querySelector("[data-auto-refresh]");
  if (!button) { return; }
  var key = "pishkhan-board-auto";
  var on = window.sessionStorage.getItem(key) !== "off";
  var timer = null;
  function show() {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = "تازه شدن خودکار هر ۳۰ ثانیه: " + (on ? "روشن" : "خاموش");
    if (timer) { clearTimeout(timer); timer = null; }
    if (on) { timer = setTimeout(function () { window.location.reload(); }, 30000); }
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    on = !on;
    window.sessionStorage.setItem(key, on ? "on" : "off");
    show();
  });
  show();
})();
