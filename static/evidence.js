// Evidence on the visit form: the phone's location and up to three photos, shrunk here
// (max side 1600 px, at most ~300 KB JPEG) so that they fit a slow line and the phone's
// storage. offline.js reads form.fvLocation and form.fvPhotos when the visit is saved.
(function () {
  "use strict";
  var form = document.querySelector("form[data-offline]");
  if (!form) return;
  var MAX_SIDE = 1600, MAX_BYTES = 300 * 1024, MAX_PHOTOS = 3;

  // --- location -----------------------------------------------------------------------
  var where = form.querySelector(".fv-where");
  function locate() {
    form.fvLocation = null;
    if (!where) return;
    if (!navigator.geolocation) { where.textContent = where.dataset.none; return; }
    where.textContent = where.dataset.busy;
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.fvLocation = {
        lat: pos.coords.latitude, lng: pos.coords.longitude,
        accuracy: Math.round(pos.coords.accuracy * 10) / 10
      };
      where.textContent = where.dataset.found.replace("{m}", Math.round(pos.coords.accuracy));
    }, function () {
      // No permission or no fix: the visit is still saved, marked "no location".
      where.textContent = where.dataset.none;
    }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  }

  // --- photos -------------------------------------------------------------------------
  var box = form.querySelector(".fv-photos");
  var input = box && box.querySelector("input[type=file]");
  var previews = box && box.querySelector(".thumbs");
  form.fvPhotos = [];

  function load(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" }).catch(function () {
        return createImageBitmap(file);
      });
    }
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = reject;
      img.src = URL.createObjectURL(file);
    });
  }

  function encode(canvas, quality) {
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); });
  }

  function shrink(file) {
    return load(file).then(function (img) {
      var side = MAX_SIDE;
      function attempt(quality) {
        var scale = Math.min(1, side / Math.max(img.width, img.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(img.width * scale);
        canvas.height = Math.round(img.height * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        return encode(canvas, quality).then(function (blob) {
          if (!blob || blob.size <= MAX_BYTES || side < 400) return blob;
          // Too big still: lower the quality first, then the size.
          if (quality > 0.55) return attempt(quality - 0.15);
          side = Math.round(side * 0.75);
          return attempt(0.7);
        });
      }
      return attempt(0.8);
    });
  }

  // problem: what went wrong with the files just chosen (shown with the limit, not erased).
  function show(problem) {
    previews.textContent = "";
    form.fvPhotos.forEach(function (blob, i) {
      var item = document.createElement("span");
      var img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.alt = "";
      var drop = document.createElement("button");
      drop.type = "button";
      drop.className = "small";
      drop.textContent = box.dataset.remove;
      drop.addEventListener("click", function () { form.fvPhotos.splice(i, 1); show(""); });
      item.appendChild(img);
      item.appendChild(drop);
      previews.appendChild(item);
    });
    var full = form.fvPhotos.length >= MAX_PHOTOS ? box.dataset.full : "";
    box.querySelector(".fv-photo-note").textContent = [problem, full].filter(Boolean).join(" ");
    input.disabled = form.fvPhotos.length >= MAX_PHOTOS;
  }

  if (box) {
    box.hidden = false;  // without this script the form sends no photos: keep it hidden
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files, 0, MAX_PHOTOS - form.fvPhotos.length);
      var problem = "";
      input.value = "";
      files.reduce(function (chain, file) {
        return chain.then(function () {
          return shrink(file).then(function (blob) { if (blob) form.fvPhotos.push(blob); }, function () {
            problem = box.dataset.bad;  // not a picture the phone can read
          });
        });
      }, Promise.resolve()).then(function () { show(problem); });
    });
  }

  form.addEventListener("fv-reset", function () {
    form.fvPhotos = [];
    if (box) show("");
    locate();
  });
  locate();
})();
