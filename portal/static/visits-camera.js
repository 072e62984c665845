// The admit form's camera: a picture taken here is put into the photo file field, so the form
// posts exactly as with a chosen file. Without a camera or without script the file field stays.
document.querySelectorAll("[data-camera]").forEach(function (box) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.DataTransfer) {
    return;
  }
  var field = box.closest("fieldset").querySelector("input[type=file]");
  var video = box.querySelector("[data-video]");
  var canvas = box.querySelector("[data-canvas]");
  var start = box.querySelector("[data-start]");
  var shoot = box.querySelector("[data-shoot]");
  var status = box.querySelector("[data-camera-status]");
  box.hidden = false;
  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({ video: true, audio: false }).then(function (stream) {
      video.srcObject = stream;
      shoot.hidden = false;
      status.textContent = "دوربین روشن است. مراجع به دوربین نگاه کند و «گرفتن عکس» را بزنید.";
    }).catch(function () {
      status.textContent = "دوربین در دسترس نیست؛ فایل عکس را انتخاب کنید.";
    });
  });
  shoot.addEventListener("click", function () {
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(function (blob) {
      var files = new DataTransfer();
      files.items.add(new File([blob], "camera.jpg", { type: "image/jpeg" }));
      field.files = files.files;
      status.textContent = "عکس گرفته شد و همراه فرم فرستاده می‌شود.";
    }, "image/jpeg", 0.85);
  });
});
