// The security desk hears of a denied scan or a blacklisted person without reloading: the
// alerts are read every 10 seconds and a new one is announced. Without script, reloading shows
// the same list.
(function () {
  var box = document.getElementById("alerts");
  var live = document.getElementById("alerts-live");
  if (!box || !live || !window.fetch) { return; }
  var seen = {};
  box.querySelectorAll("form[action*='/alerts/']").forEach(function (form) {
    var m = form.getAttribute("action").match(/alerts\/(\d+)\//);
    if (m) { seen[m[1]] = true; }
  });
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : { alerts: [] };
    }).then(function (data) {
      var fresh = data.alerts.filter(function (a) { return !seen[a.id]; });
      fresh.forEach(function (a) {
        seen[a.id] = true;
        var p = document.createElement("p");
        p.className = "alert " + a.kind;
        p.textContent = "هشدار تازه: " + a.message;
        live.appendChild(p);
      });
    }).catch(function () {});
  }
  setInterval(poll, 10000);
})();
