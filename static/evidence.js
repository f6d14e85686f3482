// Evidence on the visit form: the phone's location and up to three photos, shrunk here
// (max side 1600 px, at most ~300 KB JPEG) so that they fit a slow line and the phone's
// storage. visit_form.js reads form.fvLocation and form.fvPhotos when the visit is saved.
(() => {
  "use strict";
  const form = document.querySelector("form[data-offline]");
  if (!form) return;
  const MAX_SIDE = 1600, MAX_BYTES = 300 * 1024, MAX_PHOTOS = 3;

  // --- location -----------------------------------------------------------------------
  const where = form.querySelector(".fv-where");
  const locate = () => {
    form.fvLocation = null;
    if (!where) return;
    if (!navigator.geolocation) { where.textContent = where.dataset.none; return; }
    where.textContent = where.dataset.busy;
    navigator.geolocation.getCurrentPosition((pos) => {
      form.fvLocation = {
        lat: pos.coords.latitude, lng: pos.coords.longitude,
        accuracy: Math.round(pos.coords.accuracy * 10) / 10
      };
      where.textContent = where.dataset.found.replace("{m}", Math.round(pos.coords.accuracy));
    }, () => {
      // No permission or no fix: the visit is still saved, marked "no location".
      where.textContent = where.dataset.none;
    }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  };

  // --- photos -------------------------------------------------------------------------
  const box = form.querySelector(".fv-photos");
  const input = box && box.querySelector("input[type=file]");
  const previews = box && box.querySelector(".thumbs");
  form.fvPhotos = [];

  const load = (file) => {
    if (window.createImageBitmap) {
      // The camera's rotation applied; older browsers do not know the option.
      return createImageBitmap(file, { imageOrientation: "from-image" })
        .catch(() => createImageBitmap(file));
    }
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = reject;
      img.src = URL.createObjectURL(file);
    });
  };

  const encode = (canvas, quality) =>
    new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));

  const shrink = (file) => load(file).then((img) => {
    let side = MAX_SIDE;
    const attempt = (quality) => {
      const scale = Math.min(1, side / Math.max(img.width, img.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(img.width * scale);
      canvas.height = Math.round(img.height * scale);
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      return encode(canvas, quality).then((blob) => {
        if (!blob || blob.size <= MAX_BYTES || side < 400) return blob;
        // Too big still: lower the quality first, then the size.
        if (quality > 0.55) return attempt(quality - 0.15);
        side = Math.round(side * 0.75);
        return attempt(0.7);
      });
    };
    return attempt(0.8);
  });

  // problem: what went wrong with the files just chosen (shown with the limit, not erased).
  const show = (problem) => {
    previews.textContent = "";
    form.fvPhotos.forEach((blob, i) => {
      const item = document.createElement("span");
      const img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.alt = "";
      const drop = document.createElement("button");
      drop.type = "button";
      drop.className = "small";
      drop.textContent = box.dataset.remove;
      drop.addEventListener("click", () => { form.fvPhotos.splice(i, 1); show(""); });
      item.appendChild(img);
      item.appendChild(drop);
      previews.appendChild(item);
    });
    const full = form.fvPhotos.length >= MAX_PHOTOS ? box.dataset.full : "";
    box.querySelector(".fv-photo-note").textContent = [problem, full].filter(Boolean).join(" ");
    input.disabled = form.fvPhotos.length >= MAX_PHOTOS;
  };

  if (box) {
    box.hidden = false;  // without this script the form sends no photos: keep it hidden
    input.addEventListener("change", () => {
      const files = Array.from(input.files).slice(0, MAX_PHOTOS - form.fvPhotos.length);
      let problem = "";
      input.value = "";
      // One at a time: a phone has little memory for several decoded camera pictures.
      files.reduce((chain, file) => chain.then(() => shrink(file).then((blob) => {
        if (blob) form.fvPhotos.push(blob);
      }, () => {
        problem = box.dataset.bad;  // not a picture the phone can read
      })), Promise.resolve()).then(() => show(problem));
    });
  }

  // visit_form.js empties the form for the next visit.
  form.addEventListener("fv-reset", () => {
    form.fvPhotos = [];
    if (box) show("");
    locate();
  });
  locate();
})();
