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
  var ZH = document.documentElement.lang !== "en";
  var COLON = ZH ? "：" : ": ";
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
  // This user's records, oldest first: the order they were recorded in (and are sent in).
  function mine(records) {
    return records.filter(function (r) { return r.user === user; })
      .sort(function (a, b) { return (a.created || 0) - (b.created || 0); });
  }

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

  // The reason a record was refused, each field's problem under that field's label
  // (labelOf gives "" for a key it has no label for: the message then stands alone).
  // Records refused before field errors were kept have only their text in record.error.
  function reasonText(record, labelOf) {
    var errors = record.errors || {};
    var parts = [record.error];
    Object.keys(errors).forEach(function (k) {
      var name = labelOf(k);
      parts.push(name ? name + COLON + errors[k] : errors[k]);
    });
    return parts.filter(Boolean).join(ZH ? "；" : "; ");
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
    return res.json().catch(function () { return {}; }).then(function (body) {
      record.state = "refused";
      record.error = body.error || String(res.status);
      record.errors = body.errors || {};  // field key (date, guarantees.food, …) -> message
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
  var upload = document.getElementById("fv-upload");
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
        // Refused records are never sent again: with only those, there is nothing to upload.
        if (upload) upload.hidden = !waiting;
      }
      renderList(records);
      return records;
    });
  }

  function element(tag, className, content) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (content !== undefined) el.textContent = content;
    return el;
  }

  // A queued record's content, so that a refused visit can still be read out or handed to
  // the office for 补录. labels: the queue page's key -> label map (data-labels).
  function content(r, labels) {
    var p = r.payload;
    var dl = element("dl", "facts");
    var name = function (key, fallback) { return labels[key] || fallback; };
    var answer = function (v) { return v === true ? labels.yes : v === false ? labels.no : labels.na; };
    function row(key, value) {
      if (value === "" || value === null || value === undefined) return;
      dl.appendChild(element("dt", "", labels[key] || key));
      var dd = element("dd", key === "notes" ? "notes" : "");
      if (typeof value === "string" || typeof value === "number") dd.textContent = value;
      else value.forEach(function (line) { dd.appendChild(typeof line === "string" ? element("div", "", line) : line); });
      dl.appendChild(dd);
    }
    // "不愁吃 是", one line each; a 否 stands out, as on the form.
    function answers(group) {
      var items = p[group] || {};
      return Object.keys(items).map(function (k) {
        var line = element("div", "", name(group + "." + k, k) + " ");
        line.appendChild(element("b", items[k] === false ? "no" : "", answer(items[k])));
        return line;
      });
    }
    row("kind", name("kind." + p.kind, p.kind || ""));
    var guarantees = answers("guarantees"), environment = answers("environment");
    if (guarantees.length) row("guarantees", guarantees);
    if (environment.length) row("environment", environment);
    if (p.kind === "in_person" || p.helped_clean) row("helped_clean", answer(!!p.helped_clean));
    if ((p.needs || []).length) {
      row("needs", p.needs.map(function (n) {
        return name("needs.category." + n.category, n.category || "") + COLON +
          n.description + (n.urgent ? " · " + labels["needs.urgent"] : "");
      }));
    }
    row("satisfaction", p.satisfaction ? name("satisfaction." + p.satisfaction, p.satisfaction) : "");
    row("notes", p.notes);
    if ((r.photos || []).length) row("photos", r.photos.length);
    return dl;
  }

  function renderList(records) {
    var list = document.getElementById("fv-queue-list");
    if (!list) return;
    var labels = JSON.parse(list.dataset.labels || "{}");
    var labelOf = function (key) {
      var need = /^needs\.(\d+)\.(\w+)$/.exec(key);
      if (need) return labels.needs + " " + (+need[1] + 1) + " · " + (labels["needs." + need[2]] || need[2]);
      return labels[key] || "";
    };
    list.textContent = "";
    document.getElementById("fv-queue-empty").hidden = records.length > 0;
    records.forEach(function (r) {
      var li = element("li", "card");
      var head = element("p");
      head.appendChild(element("b", "", (r.label || r.payload.household) + " · " + r.payload.date));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(element("span", "badge" + (r.state === "refused" ? " urgent" : ""),
        r.state === "refused" ? text.refusedOne : text.waitingOne));
      li.appendChild(head);
      if (r.error) li.appendChild(element("p", "error", reasonText(r, labelOf)));
      li.appendChild(content(r, labels));
      var del = element("button", "small", text.remove);
      del.type = "button";
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

  // The need rows that hold something, by their row number: the payload's needs[i] (and the
  // server's needs.i.* errors) is the row filledNeeds(form)[i].
  function filledNeeds(form) {
    var rows = [];
    form.querySelectorAll(".need").forEach(function (row, i) {
      var cat = row.querySelector("select").value, desc = row.querySelector("textarea").value.trim();
      if (cat || desc) rows.push(i);
    });
    return rows;
  }

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
    filledNeeds(form).forEach(function (i) {
      p.needs.push({
        category: get("needs-" + i + "-category") || null,
        description: get("needs-" + i + "-description").trim(),
        urgent: get("needs-" + i + "-urgent") === "yes"
      });
    });
    return p;
  }

  function localToday() {
    var d = new Date();
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate());
  }

  // Characters as Python counts them (an emoji is one, not two UTF-16 units).
  function length(s) { return Array.from(s).length; }

  // What the server would refuse for sure (fieldvisit/visits.py validate), keyed and worded
  // as the server words it (the .fv-status element's data- attributes). Checked before
  // queueing, online or not: a record made offline does not wait days only to be refused for
  // a missing answer, and online the chosen photos stay on the page (the server's own error
  // page would drop them). Rules that depend on who records (how far back a date may go) are
  // left to the server.
  function missing(form, p) {
    var t = form.querySelector(".fv-status").dataset;
    var out = {};
    if (!p.kind) out.kind = t.kind;
    if (!p.date) out.date = t.date;
    else if (p.date > localToday()) out.date = t.future;
    if (p.kind === "in_person") {
      // An in-person visit answers every guarantee and every checklist item.
      form.querySelectorAll("input[type=radio]").forEach(function (input) {
        var n = input.name;
        var key = n.indexOf("g_") === 0 ? "guarantees." + n.slice(2) : n.indexOf("env_") === 0 ? "environment." + n.slice(4) : "";
        if (key && !(key in out) && !form.querySelector("input[name='" + n + "']:checked")) out[key] = t.choose;
      });
    }
    if (!p.satisfaction && p.kind !== "nobody_home") out.satisfaction = t.satisfaction;
    if (length(p.notes.trim()) > +t.maxNotes) out.notes = t.notes;
    if (p.needs.length > +t.maxNeeds) out.needs = t.needs;
    p.needs.forEach(function (n, i) {
      if (!n.category) out["needs." + i + ".category"] = t.category;
      if (!n.description) out["needs." + i + ".description"] = t.describe;
      else if (length(n.description) > +t.maxNeedText) out["needs." + i + ".description"] = t.needText;
    });
    return out;
  }

  // Where the server-rendered form shows the error for a field key (templates/visit_form.html
  // err()): {node, how} with how "after", "before" or "append"; null for a key with no field
  // on the form (household, id), which is then told only in the status line.
  function spotFor(form, key) {
    var parts = key.split(".");
    var named = function (n) { return form.querySelector("[name='" + n + "']"); };
    var el;
    if (parts[0] === "guarantees" || parts[0] === "environment") {
      var prefix = parts[0] === "guarantees" ? "g_" : "env_";
      if (parts.length === 1) {
        el = form.querySelector("[name^='" + prefix + "']");
        return el && { node: el.closest("fieldset"), how: "append" };
      }
      el = named(prefix + parts[1]);
      return el && { node: el.closest(".row"), how: "after" };
    }
    if (parts[0] === "needs") {
      if (parts.length === 1) {
        el = form.querySelector("button[name=add_need]");
        return el && { node: el, how: "before" };
      }
      var row = filledNeeds(form)[+parts[1]];
      el = row === undefined ? null : named("needs-" + row + "-" + parts[2]);
      return el && { node: el, how: "after" };
    }
    el = named(key);
    if (!el) return null;
    if (el.type === "radio") return { node: el.closest(".row") || el.closest(".seg"), how: "after" };
    return { node: el, how: "after" };
  }

  // The label the form shows for a field key: the question of its row, or its section's title.
  function labelOnForm(form, key) {
    var spot = spotFor(form, key);
    if (!spot || !spot.node) return "";
    var legend = function (node) {
      var l = node.closest("fieldset").querySelector("legend");
      return l ? l.firstChild.textContent.trim() : "";
    };
    if (spot.node.matches(".row")) return spot.node.querySelector(".q").textContent.trim();
    var need = /^needs\.(\d+)\.\w+$/.exec(key);
    if (need) {
      return legend(spot.node) + " " + (+need[1] + 1) + " · " +
        (spot.node.getAttribute("aria-label") || spot.node.getAttribute("placeholder") || "");
    }
    return legend(spot.node);
  }

  function clearErrors(form) {
    form.querySelectorAll(".missing").forEach(function (el) { el.classList.remove("missing"); });
    // Also the server's, from a page it rendered with errors: they no longer apply.
    form.querySelectorAll("p.error:not(.fv-status)").forEach(function (el) { el.remove(); });
    var top = form.previousElementSibling;
    if (top && top.matches("p.error")) top.remove();
  }

  // Each problem next to its field, its section marked; returns the first one shown.
  function showErrors(form, errors) {
    var first = null;
    Object.keys(errors).forEach(function (key) {
      var spot = spotFor(form, key);
      if (!spot || !spot.node) return;
      var p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = errors[key];
      if (spot.how === "append") spot.node.appendChild(p);
      else if (spot.how === "before") spot.node.before(p);
      else spot.node.after(p);
      var section = p.closest("fieldset");
      if (section) section.classList.add("missing");
      if (!first) first = p;
    });
    return first;
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

  function say(form, message, bad, target) {
    var el = form.querySelector(".fv-status");
    el.textContent = message;
    el.className = "fv-status " + (message ? (bad ? "error" : "flash") : "");
    if (message) (target || el).scrollIntoView({ block: "center" });
  }

  // An empty form for the next visit, with a new id (the status line is left as it is).
  function fresh(form) {
    form.reset();
    clearErrors(form);
    var rows = form.querySelectorAll(".need");
    for (var i = rows.length - 1; i > 0; i--) rows[i].remove();
    form.elements.need_rows.value = 1;
    form.elements.id.value = uuid();
    form.dispatchEvent(new Event("fv-reset"));
    form.querySelector("[data-once]").disabled = false;
  }

  // A page opened from the phone's cache days later still says the day it was cached:
  // today's date (the phone's) replaces the day the page was made, unless another was typed.
  function currentDay(form) {
    var input = form.elements.date, made = input.dataset.today, today = localToday();
    if (!made || made === today) return;
    input.max = today;
    if (input.defaultValue === made) input.defaultValue = today;
    if (input.value === made) input.value = today;
  }

  function setupForm(form) {
    // A page opened from the phone's cache carries the id it was cached with: a new id
    // each time the form opens keeps two visits from sharing one.
    form.elements.id.value = uuid();
    currentDay(form);
    var button = form.querySelector("[data-once]");
    var stored = false;  // this form's visit is on the server
    // Back after saving: Chrome shows the page as it was left (the back-forward cache), the
    // saved answers still in it; a second save would only resend it. Start the next visit.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted || !stored) return;
      stored = false;
      fresh(form);
      say(form, "", false);
    });
    // Older Safari has no event.submitter: catch "再加一条需求" on its own click.
    var more = form.querySelector("button[name=add_need]");
    if (more) more.addEventListener("click", function (event) {
      event.preventDefault();
      addNeed(form);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (event.submitter && event.submitter.name === "add_need") {
        addNeed(form);
        return;
      }
      var payload = payloadFrom(form);
      var gaps = missing(form, payload);
      clearErrors(form);
      if (Object.keys(gaps).length) {
        say(form, text.incomplete, true, showErrors(form, gaps));
        return;
      }
      var record = {
        id: payload.id, user: user, payload: payload, label: form.dataset.label,
        photos: (form.fvPhotos || []).map(function (blob) { return { id: uuid(), blob: blob, done: false }; }),
        state: "waiting", error: "", errors: {}, sent: false, created: Date.now()
      };
      button.disabled = true;
      put(record).then(function () {
        if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
        return flush();
      }).then(function (records) {
        var left = records.filter(function (r) { return r.id === record.id; })[0];
        if (!left) {
          stored = true;
          sessionStorage.setItem("fv-flash", text.saved);
          window.location.href = form.dataset.done;
          return;
        }
        var why = reasonText(left, function (key) { return labelOnForm(form, key); });
        if (left.state === "refused" && !left.sent) {
          // Refused while the helper is still at the form: everything typed and the photos
          // stay, each problem by its field. A refusal the form can fix leaves the queue (the
          // helper fixes it here); one it cannot (the household is no longer theirs) stays
          // on /queue, where its content can be read out for the office.
          var fixable = Object.keys(left.errors || {}).some(function (k) { return spotFor(form, k); });
          return (fixable ? remove(left.id).then(render) : Promise.resolve()).then(function () {
            say(form, why, true, showErrors(form, left.errors || {}));
            button.disabled = false;
          });
        }
        // Waiting for a connection, or stored with a photo refused: the visit is safe.
        if (left.state === "refused") say(form, why, true);
        else say(form, text.queued, false);
        fresh(form);
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
  if (upload) upload.addEventListener("click", flush);
  window.addEventListener("online", flush);
  // A page left open at the door: try again every minute while something waits.
  setInterval(function () { if (bar && !bar.hidden && navigator.onLine) flush(); }, 60000);
  setupWorker();
  if (user) flush(); else render();
  window.fvQueue = { flush: flush, all: all };
})();
