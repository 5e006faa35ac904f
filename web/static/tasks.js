// The door page on a phone. Without this script the forms work as they are: pick or take a
// photo, send it; or type the room. With it: a photo is sent as soon as it is taken, shrunk
// first (a phone's 3-5 MB JPEG becomes a few hundred KB), and where the browser can read QR
// codes itself (BarcodeDetector) it reads the sticker in the page and sends only its text,
// from the photo or live from the camera. Nothing here comes from a third party.
(function () {
  "use strict";

  var MAX_SIDE = 1600;  // px: a door sticker's code still reads at this size
  var DOOR_PREFIX = "DD1:";
  var form = document.getElementById("door-photo-form");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var doorField = form.querySelector("input[name=door]");
  var reading = form.querySelector(".door-reading");
  var sendButton = form.querySelector(".photo-send");
  form.classList.add("js");
  var detector = null;
  if ("BarcodeDetector" in window) {
    try {
      detector = new window.BarcodeDetector({formats: ["qr_code"]});
    } catch (e) {
      detector = null;
    }
  }

  function sendText(text) {
    doorField.value = text;
    input.value = "";  // the text is enough: no photo travels
    form.submit();
  }

  function busy() {
    reading.hidden = false;
    if (sendButton) sendButton.disabled = true;
  }

  function doorCode(codes) {
    for (var i = 0; i < codes.length; i++) {
      var text = (codes[i].rawValue || "").trim();
      if (text.toUpperCase().indexOf(DOOR_PREFIX) === 0) return text;
    }
    return null;
  }

  // The photo at most MAX_SIDE a side, as a JPEG File; null when the browser cannot.
  function shrink(bitmap) {
    var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) {
      canvas.toBlob(function (blob) {
        resolve(blob ? new File([blob], "door.jpg", {type: "image/jpeg"}) : null);
      }, "image/jpeg", 0.9);
    });
  }

  function replaceFile(file) {
    try {
      var transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
      return true;
    } catch (e) {
      return false;  // an older browser: the original photo goes instead
    }
  }

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) return;
    busy();
    if (!window.createImageBitmap || !window.Promise) {
      form.submit();
      return;
    }
    createImageBitmap(file).then(function (bitmap) {
      var read = detector ? detector.detect(bitmap).then(doorCode, function () { return null; })
                          : Promise.resolve(null);
      return read.then(function (text) {
        if (text) {
          sendText(text);
          return;
        }
        return shrink(bitmap).then(function (small) {
          if (small && small.size < file.size) replaceFile(small);
          form.submit();
        });
      });
    }).catch(function () {
      form.submit();  // a format the page cannot open (HEIC ...): the server tries
    });
  });

  // Live scanning: only where the browser reads QR codes and may open the camera (HTTPS).
  var live = document.querySelector(".live-scan");
  if (!live || !detector || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var video = live.querySelector(".live-video");
  var start = live.querySelector(".live-start");
  var stop = live.querySelector(".live-stop");
  var stream = null;
  live.hidden = false;

  function close() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.hidden = stop.hidden = true;
    start.hidden = false;
  }

  function look() {
    if (!stream) return;
    detector.detect(video).then(function (codes) {
      var text = doorCode(codes);
      if (text) {
        close();
        busy();
        sendText(text);
      } else {
        setTimeout(look, 200);
      }
    }, function () { setTimeout(look, 500); });
  }

  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false})
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = stop.hidden = false;
        start.hidden = true;
        return video.play();
      })
      .then(look)
      .catch(close);
  });
  stop.addEventListener("click", close);
})();
