// The offline queue. A visit is put in the phone's IndexedDB first, then sent through the
// JSON API; it leaves the phone only when the server has stored it (201 or 200 for a
// resend of the same client id). Works with or without a service worker: the queue lives
// in the page, and is flushed on load, on the "online" event and on the upload button.
// Texts come from data- attributes of #fv-offline, rendered by the server in the
// user's language.
(function () {
  "use strict";
  var box = document.getElementById("fv-offline");
  if (!box || !window.indexedDB) return;
  var text = box.dataset;
  var user = text.user || "";
  var DB = "fieldvisit", STORE = "queue";
  var flushing = null;

  // --- storage ------------------------------------------------------------------------

  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "id" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { db.close(); resolve(result && result.result); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }

  function all() { return tx("readonly", function (s) { return s.getAll(); }); }
  function put(record) { return tx("readwrite", function (s) { s.put(record); }); }
  function remove(id) { return tx("readwrite", function (s) { s.delete(id); }); }
  function mine(records) { return records.filter(function (r) { return r.user === user; }); }

  // --- sending ------------------------------------------------------------------------

  function Stop(message) { this.message = message; }

  function freshToken() {
    return fetch("/api/v1/csrf", { credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (res.status === 401) throw new Stop(text.login);
        if (!res.ok) throw new Stop(text.later);
        return res.json();
      }).then(function (body) { return body.csrf_token; });
  }

  function reason(res) {
    return res.json().catch(function () { return {}; }).then(function (body) {
      var parts = [body.error || res.status];
      Object.keys(body.errors || {}).forEach(function (k) { parts.push(k + ": " + body.errors[k]); });
      return parts.join("；");
    });
  }

  // POST with the current token; on a CSRF refusal (400 without field errors) fetch a new
  // token and try once more, as a token of an ended session is refused.
  function post(url, body, json, ctx, retried) {
    var headers = { "X-CSRFToken": ctx.token, "Accept": "application/json" };
    if (json) headers["Content-Type"] = "application/json";
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers, body: body })
      .then(function (res) {
        if (res.status === 401) throw new Stop(text.login);
        if (res.status >= 500) throw new Stop(text.later);
        if (res.status !== 400 || retried) return res;
        return res.clone().json().catch(function () { return {}; }).then(function (b) {
          if (b.errors) return res;
          return freshToken().then(function (token) {
            ctx.token = token;
            return post(url, body, json, ctx, true);
          });
        });
      });
  }

  function refuse(record, res) {
    return reason(res).then(function (why) {
      record.state = "refused";
      record.error = why;
      return put(record);
    });
  }

  function sendPhotos(record, ctx, i) {
    var photo = record.photos[i];
    if (!photo) return remove(record.id);
    if (photo.done) return sendPhotos(record, ctx, i + 1);
    var form = new FormData();
    form.append("id", photo.id);
    form.append("file", photo.blob, photo.id + ".jpg");
    return post("/api/v1/visits/" + record.id + "/photos", form, false, ctx).then(function (res) {
      if (!res.ok) return refuse(record, res);
      photo.done = true;
      photo.blob = null;
      return put(record).then(function () { return sendPhotos(record, ctx, i + 1); });
    });
  }

  function send(record, ctx) {
    if (record.sent) return sendPhotos(record, ctx, 0);
    return post("/api/v1/visits", JSON.stringify(record.payload), true, ctx).then(function (res) {
      if (!res.ok) return refuse(record, res);
      record.sent = true;
      return put(record).then(function () { return sendPhotos(record, ctx, 0); });
    });
  }

  function flush() {
    // A flush under way may have read the queue before the newest record: go again after.
    if (flushing) return flushing.then(flush);
    flushing = all().then(function (records) {
      var waiting = mine(records).filter(function (r) { return r.state !== "refused"; });
      if (!waiting.length || !user) return;
      return freshToken().then(function (token) {
        var ctx = { token: token };
        return waiting.reduce(function (chain, r) {
          return chain.then(function () { return send(r, ctx); });
        }, Promise.resolve());
      });
    }).then(function () { note(""); }, function (err) {
      note(err instanceof Stop ? err.message : text.later);
    }).then(function () { flushing = null; return render(); });
    return flushing;
  }

  // --- what the helper sees -----------------------------------------------------------

  var bar = document.getElementById("fv-queue");
  function note(message) {
    var el = document.getElementById("fv-queue-note");
    if (el) el.textContent = message || "";
  }

  function render() {
    return all().then(function (records) {
      records = mine(records);
      var waiting = records.filter(function (r) { return r.state !== "refused"; }).length;
      var refused = records.length - waiting;
      if (bar) {
        bar.hidden = !records.length;
        document.getElementById("fv-queue-count").textContent =
          text.waiting.replace("{n}", waiting) + (refused ? " · " + text.refused.replace("{n}", refused) : "");
      }
      renderList(records);
      return records;
    });
  }

  function renderList(records) {
    var list = document.getElementById("fv-queue-list");
    if (!list) return;
    list.textContent = "";
    document.getElementById("fv-queue-empty").hidden = records.length > 0;
    records.forEach(function (r) {
      var li = document.createElement("li");
      var title = document.createElement("b");
      title.textContent = (r.label || r.payload.household) + " · " + r.payload.date;
      li.appendChild(title);
      var state = document.createElement("span");
      state.className = "badge" + (r.state === "refused" ? " urgent" : "");
      state.textContent = r.state === "refused" ? text.refusedOne : text.waitingOne;
      li.appendChild(document.createTextNode(" "));
      li.appendChild(state);
      if (r.error) {
        var why = document.createElement("p");
        why.className = "error";
        why.textContent = r.error;
        li.appendChild(why);
      }
      var del = document.createElement("button");
      del.type = "button";
      del.className = "small";
      del.textContent = text.remove;
      del.addEventListener("click", function () {
        if (window.confirm(text.confirm)) remove(r.id).then(render);
      });
      li.appendChild(del);
      list.appendChild(li);
    });
  }

  // --- the visit form -----------------------------------------------------------------

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs HTTPS; getRandomValues does not (a LAN server is plain HTTP).
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  var YES_NO = { yes: true, no: false }, YES_NO_NA = { yes: true, no: false, na: null };

  // The same mapping as fieldvisit/visitform.py payload_from_form.
  function payloadFrom(form) {
    var f = new FormData(form);
    var get = function (k) { return f.get(k) || ""; };
    var p = {
      id: get("id"), household: form.dataset.household, date: get("date"),
      kind: get("kind") || null, satisfaction: get("satisfaction"), notes: get("notes"),
      helped_clean: YES_NO[get("helped_clean")] || false,
      guarantees: {}, environment: {}, needs: [], location: form.fvLocation || null
    };
    if (get("helper")) p.helper = get("helper");
    f.forEach(function (value, name) {
      if (name.indexOf("g_") === 0 && value in YES_NO) p.guarantees[name.slice(2)] = YES_NO[value];
      if (name.indexOf("env_") === 0) p.environment[name.slice(4)] = value in YES_NO_NA ? YES_NO_NA[value] : "invalid";
    });
    form.querySelectorAll(".need").forEach(function (row, i) {
      var cat = get("needs-" + i + "-category"), desc = get("needs-" + i + "-description").trim();
      if (cat || desc) p.needs.push({ category: cat || null, description: desc, urgent: get("needs-" + i + "-urgent") === "yes" });
    });
    return p;
  }

  // What the server would refuse for sure; checked before queueing so that a record made
  // offline does not wait days only to be refused for a missing answer.
  function missing(form, p) {
    var names = {};
    form.querySelectorAll("input[type=radio]").forEach(function (input) { names[input.name] = 1; });
    var out = [];
    if (!p.kind) out.push("kind");
    if (!p.date) out.push("date");
    if (p.kind === "in_person") {
      Object.keys(names).forEach(function (n) {
        if ((n.indexOf("g_") === 0 || n.indexOf("env_") === 0) && !form.querySelector("input[name='" + n + "']:checked")) out.push(n);
      });
    }
    if (!p.satisfaction && p.kind && p.kind !== "nobody_home") out.push("satisfaction");
    p.needs.forEach(function (n) { if (!n.category || !n.description) out.push("needs"); });
    return out;
  }

  function addNeed(form) {
    var rows = form.querySelectorAll(".need");
    var last = rows[rows.length - 1];
    var copy = last.cloneNode(true);
    var i = rows.length;
    copy.querySelectorAll("[name]").forEach(function (el) {
      el.name = el.name.replace(/^needs-\d+-/, "needs-" + i + "-");
      if (el.type === "checkbox") el.checked = false; else el.value = "";
    });
    copy.querySelectorAll(".error").forEach(function (el) { el.remove(); });
    last.after(copy);
    form.elements.need_rows.value = i + 1;
  }

  function say(form, message, bad) {
    var el = form.querySelector(".fv-status");
    el.textContent = message;
    el.className = "fv-status " + (bad ? "error" : "flash");
    el.scrollIntoView({ block: "center" });
  }

  function setupForm(form) {
    // A page opened from the phone's cache carries the id it was cached with: a new id
    // each time the form opens keeps two visits from sharing one.
    form.elements.id.value = uuid();
    // Older Safari has no event.submitter: catch "再加一条需求" on its own click.
    var more = form.querySelector("button[name=add_need]");
    if (more) more.addEventListener("click", function (event) {
      event.preventDefault();
      addNeed(form);
    });
    form.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.name === "add_need") {
        event.preventDefault();
        addNeed(form);
        return;
      }
      event.preventDefault();
      var payload = payloadFrom(form);
      var gaps = missing(form, payload);
      form.querySelectorAll(".missing").forEach(function (el) { el.classList.remove("missing"); });
      if (gaps.length) {
        if (navigator.onLine) { form.submit(); return; } // the server shows each problem
        gaps.forEach(function (n) {
          var el = form.querySelector("[name='" + n + "']") || form.querySelector("[name^='needs-']");
          if (el) el.closest("fieldset").classList.add("missing");
        });
        say(form, text.incomplete, true);
        return;
      }
      var record = {
        id: payload.id, user: user, payload: payload, label: form.dataset.label,
        photos: (form.fvPhotos || []).map(function (blob) { return { id: uuid(), blob: blob, done: false }; }),
        state: "waiting", error: "", sent: false, created: Date.now()
      };
      var button = form.querySelector("[data-once]");
      button.disabled = true;
      put(record).then(function () {
        if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
        return flush();
      }).then(function (records) {
        var left = records.filter(function (r) { return r.id === record.id; })[0];
        if (!left) {
          sessionStorage.setItem("fv-flash", text.saved);
          window.location.href = form.dataset.done;
          return;
        }
        if (left.state === "refused") say(form, left.error, true);
        else say(form, text.queued, false);
        form.reset();
        form.elements.id.value = uuid();
        form.dispatchEvent(new Event("fv-reset"));
        button.disabled = false;
      }, function () {
        // The phone would not keep it (storage full or blocked): send the plain form.
        if (navigator.onLine) { form.submit(); return; }
        say(form, text.failed, true);
        button.disabled = false;
      });
    });
  }

  // --- caches of pages ----------------------------------------------------------------

  function swPost(message) {
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage(message);
    }
  }

  function forgetPages() {
    localStorage.removeItem("fv-kept");
    swPost({ type: "clear" });
    if (window.caches) caches.delete("fv-pages");
  }

  function setupWorker() {
    if (!("serviceWorker" in navigator)) return;
    if (!user) { forgetPages(); return; }
    if (localStorage.getItem("fv-user") !== user) forgetPages();
    localStorage.setItem("fv-user", user);
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      var links = document.querySelectorAll(".worklist a[href^='/h/']");
      if (!links.length || !reg.active) return;
      var urls = ["/", "/queue"];
      links.forEach(function (a) {
        var path = a.getAttribute("href");
        urls.push(path, path + "/visit");
      });
      // Fetching every household's pages costs a slow line: again only when the list
      // changed or the copies are half a day old.
      var mark = user + " " + urls.join(" ");
      var last = JSON.parse(localStorage.getItem("fv-kept") || "{}");
      if (last.mark === mark && Date.now() - last.at < 12 * 3600 * 1000) return;
      reg.active.postMessage({ type: "keep", urls: urls, user: user });
      localStorage.setItem("fv-kept", JSON.stringify({ mark: mark, at: Date.now() }));
    });
  }

  document.addEventListener("submit", function (event) {
    if (event.target.matches("form[data-logout]")) {
      forgetPages();
      localStorage.removeItem("fv-user");
    }
  });

  var flashed = sessionStorage.getItem("fv-flash");
  if (flashed) {
    sessionStorage.removeItem("fv-flash");
    var p = document.createElement("p");
    p.className = "flash";
    p.setAttribute("role", "status");
    p.textContent = flashed;
    document.querySelector("main").prepend(p);
  }
  document.querySelectorAll("form[data-offline]").forEach(setupForm);
  var upload = document.getElementById("fv-upload");
  if (upload) upload.addEventListener("click", flush);
  window.addEventListener("online", flush);
  // A page left open at the door: try again every minute while something waits.
  setInterval(function () { if (bar && !bar.hidden && navigator.onLine) flush(); }, 60000);
  setupWorker();
  if (user) flush(); else render();
  window.fvQueue = { flush: flush, all: all };
})();
