// The offline queue. A visit is put in the phone's IndexedDB first, then sent through the
// JSON API; it leaves the phone only when the server has stored it (201 or 200 for a
// resend of the same client id). Works with or without a service worker: the queue lives
// in the page, and is flushed on load, on the "online" event and on the upload button.
// Texts come from data- attributes of #fv-offline, rendered by the server in the
// user's language. The visit form (visit_form.js) adds its records through window.fvQueue.
(() => {
  "use strict";
  const box = document.getElementById("fv-offline");
  if (!box || !window.indexedDB) return;
  const text = box.dataset;
  const ZH = document.documentElement.lang !== "en";
  const COLON = ZH ? "：" : ": ";
  const user = text.user || "";
  const DB = "fieldvisit", STORE = "queue";
  let flushing = null;

  // --- storage ------------------------------------------------------------------------

  const open = () => new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => { req.result.createObjectStore(STORE, { keyPath: "id" }); };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

  const tx = (mode, work) => open().then((db) => new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const result = work(t.objectStore(STORE));
    t.oncomplete = () => { db.close(); resolve(result && result.result); };
    t.onerror = t.onabort = () => { db.close(); reject(t.error); };
  }));

  const all = () => tx("readonly", (s) => s.getAll());
  const put = (record) => tx("readwrite", (s) => { s.put(record); });
  const remove = (id) => tx("readwrite", (s) => { s.delete(id); });
  // This user's records, oldest first: the order they were recorded in (and are sent in).
  const mine = (records) => records.filter((r) => r.user === user)
    .sort((a, b) => (a.created || 0) - (b.created || 0));

  const uuid = () => {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs HTTPS; getRandomValues does not (a LAN server is plain HTTP).
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

  // --- sending ------------------------------------------------------------------------

  // Thrown to end a flush with a message for the helper (log in again, try later).
  class Stop {
    constructor(message) { this.message = message; }
  }

  const freshToken = () => fetch("/api/v1/csrf", { credentials: "same-origin", cache: "no-store" })
    .then((res) => {
      if (res.status === 401) throw new Stop(text.login);
      if (!res.ok) throw new Stop(text.later);
      return res.json();
    }).then((body) => body.csrf_token);

  // The reason a record was refused, each field's problem under that field's label
  // (labelOf gives "" for a key it has no label for: the message then stands alone).
  // Records refused before field errors were kept have only their text in record.error.
  const reasonText = (record, labelOf) => {
    const errors = record.errors || {};
    const parts = [record.error];
    Object.keys(errors).forEach((k) => {
      const name = labelOf(k);
      parts.push(name ? name + COLON + errors[k] : errors[k]);
    });
    return parts.filter(Boolean).join(ZH ? "；" : "; ");
  };

  // POST with the current token; on a CSRF refusal (400 without field errors) fetch a new
  // token and try once more, as a token of an ended session is refused.
  const post = (url, body, json, ctx, retried) => {
    const headers = { "X-CSRFToken": ctx.token, "Accept": "application/json" };
    if (json) headers["Content-Type"] = "application/json";
    return fetch(url, { method: "POST", credentials: "same-origin", headers, body })
      .then((res) => {
        if (res.status === 401) throw new Stop(text.login);
        if (res.status >= 500) throw new Stop(text.later);
        if (res.status !== 400 || retried) return res;
        return res.clone().json().catch(() => ({})).then((b) => {
          if (b.errors) return res;
          return freshToken().then((token) => {
            ctx.token = token;
            return post(url, body, json, ctx, true);
          });
        });
      });
  };

  const refuse = (record, res) => res.json().catch(() => ({})).then((body) => {
    record.state = "refused";
    record.error = body.error || String(res.status);
    record.errors = body.errors || {};  // field key (date, guarantees.food, …) -> message
    return put(record);
  });

  const sendPhotos = (record, ctx, i) => {
    const photo = record.photos[i];
    if (!photo) return remove(record.id);
    if (photo.done) return sendPhotos(record, ctx, i + 1);
    const form = new FormData();
    form.append("id", photo.id);
    form.append("file", photo.blob, `${photo.id}.jpg`);
    return post(`/api/v1/visits/${record.id}/photos`, form, false, ctx).then((res) => {
      if (!res.ok) return refuse(record, res);
      photo.done = true;
      photo.blob = null;
      return put(record).then(() => sendPhotos(record, ctx, i + 1));
    });
  };

  const send = (record, ctx) => {
    if (record.sent) return sendPhotos(record, ctx, 0);
    return post("/api/v1/visits", JSON.stringify(record.payload), true, ctx).then((res) => {
      if (!res.ok) return refuse(record, res);
      record.sent = true;
      return put(record).then(() => sendPhotos(record, ctx, 0));
    });
  };

  // Sends every waiting record of this user, one after the other; resolves to the user's
  // records still on the phone (as render gives them).
  const flush = () => {
    // A flush under way may have read the queue before the newest record: go again after.
    if (flushing) return flushing.then(flush);
    flushing = all().then((records) => {
      const waiting = mine(records).filter((r) => r.state !== "refused");
      if (!waiting.length || !user) return undefined;
      return freshToken().then((token) => {
        const ctx = { token };
        return waiting.reduce((chain, r) => chain.then(() => send(r, ctx)), Promise.resolve());
      });
    }).then(() => note(""), (err) => {
      note(err instanceof Stop ? err.message : text.later);
    }).then(() => { flushing = null; return render(); });
    return flushing;
  };

  // A new visit on the phone, then an attempt to send it. visit: {id, payload, label,
  // photos: [Blob]}. Resolves as flush does; rejects when the phone would not store it.
  const add = (visit) => {
    const record = {
      id: visit.id, user, payload: visit.payload, label: visit.label,
      photos: visit.photos.map((blob) => ({ id: uuid(), blob, done: false })),
      state: "waiting", error: "", errors: {}, sent: false, created: Date.now()
    };
    return put(record).then(() => {
      // Asks the browser not to clear the queue when the phone runs short of space.
      if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
      return flush();
    });
  };

  // --- what the helper sees -----------------------------------------------------------

  const bar = document.getElementById("fv-queue");
  const upload = document.getElementById("fv-upload");
  function note(message) {
    const el = document.getElementById("fv-queue-note");
    if (el) el.textContent = message || "";
  }

  function render() {
    return all().then((records) => {
      records = mine(records);
      const waiting = records.filter((r) => r.state !== "refused").length;
      const refused = records.length - waiting;
      if (bar) {
        bar.hidden = !records.length;
        document.getElementById("fv-queue-count").textContent =
          text.waiting.replace("{n}", waiting) + (refused ? ` · ${text.refused.replace("{n}", refused)}` : "");
        // Refused records are never sent again: with only those, there is nothing to upload.
        if (upload) upload.hidden = !waiting;
      }
      renderList(records);
      return records;
    });
  }

  // A record taken off the phone by the helper (or fixed on the form instead).
  const discard = (id) => remove(id).then(render);

  const element = (tag, className, content) => {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (content !== undefined) el.textContent = content;
    return el;
  };

  // A queued record's content, so that a refused visit can still be read out or handed to
  // the office for 补录. labels: the queue page's key -> label map (data-labels).
  const content = (r, labels) => {
    const p = r.payload;
    const dl = element("dl", "facts");
    const name = (key, fallback) => labels[key] || fallback;
    const answer = (v) => (v === true ? labels.yes : v === false ? labels.no : labels.na);
    const row = (key, value) => {
      if (value === "" || value === null || value === undefined) return;
      dl.appendChild(element("dt", "", labels[key] || key));
      const dd = element("dd", key === "notes" ? "notes" : "");
      if (typeof value === "string" || typeof value === "number") dd.textContent = value;
      else value.forEach((line) => dd.appendChild(typeof line === "string" ? element("div", "", line) : line));
      dl.appendChild(dd);
    };
    // "不愁吃 是", one line each; a 否 stands out, as on the form.
    const answers = (group) => {
      const items = p[group] || {};
      return Object.keys(items).map((k) => {
        const line = element("div", "", `${name(`${group}.${k}`, k)} `);
        line.appendChild(element("b", items[k] === false ? "no" : "", answer(items[k])));
        return line;
      });
    };
    row("kind", name(`kind.${p.kind}`, p.kind || ""));
    const guarantees = answers("guarantees"), environment = answers("environment");
    if (guarantees.length) row("guarantees", guarantees);
    if (environment.length) row("environment", environment);
    if (p.kind === "in_person" || p.helped_clean) row("helped_clean", answer(!!p.helped_clean));
    if ((p.needs || []).length) {
      row("needs", p.needs.map((n) => name(`needs.category.${n.category}`, n.category || "") + COLON +
        n.description + (n.urgent ? ` · ${labels["needs.urgent"]}` : "")));
    }
    row("satisfaction", p.satisfaction ? name(`satisfaction.${p.satisfaction}`, p.satisfaction) : "");
    row("notes", p.notes);
    if ((r.photos || []).length) row("photos", r.photos.length);
    return dl;
  };

  // The /queue page: each record, why it was refused and what it holds.
  function renderList(records) {
    const list = document.getElementById("fv-queue-list");
    if (!list) return;
    const labels = JSON.parse(list.dataset.labels || "{}");
    const labelOf = (key) => {
      const need = /^needs\.(\d+)\.(\w+)$/.exec(key);
      if (need) return `${labels.needs} ${+need[1] + 1} · ${labels[`needs.${need[2]}`] || need[2]}`;
      return labels[key] || "";
    };
    list.textContent = "";
    document.getElementById("fv-queue-empty").hidden = records.length > 0;
    records.forEach((r) => {
      const li = element("li", "card");
      const head = element("p");
      head.appendChild(element("b", "", `${r.label || r.payload.household} · ${r.payload.date}`));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(element("span", `badge${r.state === "refused" ? " urgent" : ""}`,
        r.state === "refused" ? text.refusedOne : text.waitingOne));
      li.appendChild(head);
      if (r.error) li.appendChild(element("p", "error", reasonText(r, labelOf)));
      li.appendChild(content(r, labels));
      const del = element("button", "small", text.remove);
      del.type = "button";
      del.addEventListener("click", () => {
        if (window.confirm(text.confirm)) discard(r.id);
      });
      li.appendChild(del);
      list.appendChild(li);
    });
  }

  // --- caches of pages ----------------------------------------------------------------

  const swPost = (message) => {
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage(message);
    }
  };

  const forgetPages = () => {
    localStorage.removeItem("fv-kept");
    swPost({ type: "clear" });
    if (window.caches) caches.delete("fv-pages");
  };

  const setupWorker = () => {
    if (!("serviceWorker" in navigator)) return;
    if (!user) { forgetPages(); return; }
    if (localStorage.getItem("fv-user") !== user) forgetPages();
    localStorage.setItem("fv-user", user);
    navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(() => navigator.serviceWorker.ready)
      .then((reg) => {
        const links = document.querySelectorAll(".worklist a[href^='/h/']");
        if (!links.length || !reg.active) return;
        const urls = ["/", "/queue"];
        links.forEach((a) => {
          const path = a.getAttribute("href");
          urls.push(path, `${path}/visit`);
        });
        // Fetching every household's pages costs a slow line: again only when the list
        // changed or the copies are half a day old.
        const mark = `${user} ${urls.join(" ")}`;
        const last = JSON.parse(localStorage.getItem("fv-kept") || "{}");
        if (last.mark === mark && Date.now() - last.at < 12 * 3600 * 1000) return;
        reg.active.postMessage({ type: "keep", urls, user });
        localStorage.setItem("fv-kept", JSON.stringify({ mark, at: Date.now() }));
      });
  };

  document.addEventListener("submit", (event) => {
    if (event.target.matches("form[data-logout]")) {
      forgetPages();
      localStorage.removeItem("fv-user");
    }
  });

  if (upload) upload.addEventListener("click", flush);
  window.addEventListener("online", flush);
  // A page left open at the door: try again every minute while something waits.
  setInterval(() => { if (bar && !bar.hidden && navigator.onLine) flush(); }, 60000);
  setupWorker();
  if (user) flush(); else render();
  window.fvQueue = { all, flush, add, discard, reasonText, uuid };
})();
