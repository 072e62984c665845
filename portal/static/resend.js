// The resend button's countdown. Only a convenience: without JavaScript the button works and
// the server says how many seconds are left.
(function () {
  var note = document.getElementById("resend-note");
  var button = document.getElementById("resend");
  if (!note || !button) return;
  var left = parseInt(note.getAttribute("data-wait"), 10) || 0;
  var en = button.getAttribute("data-lang") === "en";
  var digits = "۰۱۲۳۴۵۶۷۸۹";
  function fa(n) { return String(n).replace(/[0-9]/g, function (d) { return digits[d]; }); }
  function show() {
    if (left > 0) {
      note.textContent = en ? "No code? You can ask for a new one in " + left + " seconds."
        : "کد نرسید؟ " + fa(left) + " ثانیه دیگر می‌توانید کد تازه بگیرید.";
      button.disabled = true;
      left -= 1;
      setTimeout(show, 1000);
    } else {
      note.textContent = en ? "No code? You can ask for a new one."
        : "کد نرسید؟ می‌توانید کد تازه بگیرید.";
      button.disabled = false;
    }
  }
  show();
})();
