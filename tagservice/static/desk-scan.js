// Desk page, optional webcam scanning. The scan gun and typing need no script:
// this only fills the same field and submits the same form. BarcodeDetector
// where the browser has one for QR codes; otherwise the vendored jsQR, loaded
// only when "Use camera" is pressed. Frames never leave the browser.
(function () {
  "use strict";
  var TAG = /\/T\/(?:[A-Z2-7]+|[0-9]+)$/i, EVERY_MS = 150;  // base32 or numeric payload

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("decoder")); };
      document.head.appendChild(s);
    });
  }
  function jsqr(src) {
    return loadScript(src).then(function () {
      var canvas = document.createElement("canvas"),
        ctx = canvas.getContext("2d", {willReadFrequently: true});
      return function (video) {
        var scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        var img = ctx.getImageData(0, 0, canvas.width, canvas.height),
          code = window.jsQR(img.data, img.width, img.height, {inversionAttempts: "attemptBoth"});
        return Promise.resolve(code ? code.data : "");
      };
    });
  }
  function decoder(src) {
    if (!("BarcodeDetector" in window)) return jsqr(src);
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") < 0) return jsqr(src);
      var detector = new window.BarcodeDetector({formats: ["qr_code"]});
      return function (video) {
        return detector.detect(video).then(function (codes) {
          return codes.length ? codes[0].rawValue : "";
        });
      };
    });
  }
  function setUp(box) {
    var form = document.getElementById(box.dataset.form), input = form.elements.tag,
      start = box.querySelector("[data-camera-start]"), stop = box.querySelector("[data-camera-stop]"),
      video = box.querySelector("video"), status = box.querySelector("[data-camera-status]"),
      stream = null, timer = null;

    function say(text) { status.textContent = text; }
    function end() {
      clearTimeout(timer);
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
      video.srcObject = null;
      video.hidden = stop.hidden = true;
      start.hidden = start.disabled = false;
    }
    function scan(decode) {
      function later() { if (stream) timer = setTimeout(function () { scan(decode); }, EVERY_MS); }
      if (!stream) return;
      if (video.readyState < 2 || !video.videoWidth) return later();
      decode(video).then(function (text) {
        text = (text || "").trim();
        if (!stream) return;
        if (TAG.test(text)) {
          end();
          say("Tag read. Opening it…");
          input.value = text;
          form.submit();
          return;
        }
        if (text) say("That QR code is not an emergency tag. Show the code on the patient's card.");
        later();
      }, later);
    }
    start.addEventListener("click", function () {
      var decode;
      start.disabled = true;
      say("Starting the camera…");
      decoder(box.dataset.decoder).then(function (d) {
        decode = d;
        return navigator.mediaDevices.getUserMedia({
          audio: false, video: {facingMode: {ideal: "environment"}}
        });
      }).then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = stop.hidden = false;
        start.hidden = true;
        return video.play();
      }).then(function () {
        say("Hold the QR code on the card up to the camera.");
        scan(decode);
      }).catch(function (e) {
        var name = e && e.name;
        end();
        say((name === "NotAllowedError" ? "The camera was not allowed. "
          : name === "NotFoundError" ? "No camera was found. "
          : "The camera could not start. ") + "Use the scanner or type the tag instead.");
      });
    });
    stop.addEventListener("click", function () {
      end();
      say("Camera off.");
      input.focus();
    });
    window.addEventListener("pagehide", end);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-camera]");
    if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    box.hidden = false;
    setUp(box);
  });
})();
