// The visit form (templates/visit_form.html): need rows added and taken out on the phone,
// "全部是", the checks the server would make, errors shown at their fields, and saving
// through the phone's queue (offline.js, window.fvQueue) so that a visit made without a
// signal is kept. The form works without this script: it then posts as plain HTML.
(() => {
  "use strict";
  const YES_NO = { yes: true, no: false }, YES_NO_NA = { yes: true, no: false, na: null };

  // --- need rows ----------------------------------------------------------------------

  // The server reads a row's fields by number (needs-<row>-category …) and need_rows says
  // how many rows there are (fieldvisit/visits/form.py). Every add or remove ends here, so
  // the numbers always run 0, 1, 2… in the order the rows are shown.
  const renumberNeeds = (form) => {
    const rows = form.querySelectorAll(".need");
    rows.forEach((row, i) => {
      row.querySelectorAll("[name]").forEach((el) => {
        el.name = el.name.replace(/^needs-\d+-/, `needs-${i}-`);
      });
    });
    form.elements.need_rows.value = rows.length;
  };

  const emptyNeed = (row) => {
    row.querySelectorAll("[name]").forEach((el) => {
      if (el.type === "checkbox") el.checked = false; else el.value = "";
    });
    row.querySelectorAll(".error").forEach((el) => el.remove());
  };

  // "再加一条需求": a copy of the last row, emptied.
  const addNeed = (form) => {
    const rows = form.querySelectorAll(".need");
    const last = rows[rows.length - 1];
    const copy = last.cloneNode(true);
    emptyNeed(copy);
    last.after(copy);
    renumberNeeds(form);
  };

  // "去掉": the row goes and the rows after it move up; the last row left is emptied
  // instead, so that "再加一条需求" has a row to copy.
  const dropNeed = (form, row) => {
    if (form.querySelectorAll(".need").length === 1) {
      emptyNeed(row);
      return;
    }
    row.remove();
    renumberNeeds(form);
  };

  // Only the first row stays (the form's own, as reset left it).
  const oneNeed = (form) => {
    form.querySelectorAll(".need").forEach((row, i) => { if (i) row.remove(); });
    renumberNeeds(form);
  };

  // The need rows that hold something, by their row number: the payload's needs[i] (and the
  // server's needs.i.* errors) is the row filledNeeds(form)[i].
  const filledNeeds = (form) => {
    const rows = [];
    form.querySelectorAll(".need").forEach((row, i) => {
      const cat = row.querySelector("select").value, desc = row.querySelector("textarea").value.trim();
      if (cat || desc) rows.push(i);
    });
    return rows;
  };

  // --- the record ---------------------------------------------------------------------

  // The same mapping as fieldvisit/visits/form.py payload_from_form.
  const payloadFrom = (form) => {
    const f = new FormData(form);
    const get = (k) => f.get(k) || "";
    const p = {
      id: get("id"), household: form.dataset.household, date: get("date"),
      kind: get("kind") || null, satisfaction: get("satisfaction"), notes: get("notes"),
      helped_clean: YES_NO[get("helped_clean")] || false,
      guarantees: {}, environment: {}, needs: [], location: form.fvLocation || null
    };
    if (get("helper")) p.helper = get("helper");
    f.forEach((value, name) => {
      if (name.startsWith("g_") && value in YES_NO) p.guarantees[name.slice(2)] = YES_NO[value];
      if (name.startsWith("env_")) p.environment[name.slice(4)] = value in YES_NO_NA ? YES_NO_NA[value] : "invalid";
    });
    filledNeeds(form).forEach((i) => {
      p.needs.push({
        category: get(`needs-${i}-category`) || null,
        description: get(`needs-${i}-description`).trim(),
        urgent: get(`needs-${i}-urgent`) === "yes"
      });
    });
    return p;
  };

  // --- checks before saving -----------------------------------------------------------

  const localToday = () => {
    const d = new Date();
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  };

  // Characters as Python counts them (an emoji is one, not two UTF-16 units).
  const length = (s) => Array.from(s).length;

  // What the server would refuse for sure (fieldvisit/visits/recording.py validate), keyed and worded
  // as the server words it (the .fv-status element's data- attributes). Checked before
  // queueing, online or not: a record made offline does not wait days only to be refused for
  // a missing answer, and online the chosen photos stay on the page (the server's own error
  // page would drop them). Rules that depend on who records (how far back a date may go) are
  // left to the server.
  const missing = (form, p) => {
    const t = form.querySelector(".fv-status").dataset;
    const out = {};
    if (!p.kind) out.kind = t.kind;
    if (!p.date) out.date = t.date;
    else if (p.date > localToday()) out.date = t.future;
    if (p.kind === "in_person") {
      // An in-person visit answers every guarantee and every checklist item.
      form.querySelectorAll("input[type=radio]").forEach((input) => {
        const n = input.name;
        const key = n.startsWith("g_") ? `guarantees.${n.slice(2)}` : n.startsWith("env_") ? `environment.${n.slice(4)}` : "";
        if (key && !(key in out) && !form.querySelector(`input[name='${n}']:checked`)) out[key] = t.choose;
      });
    }
    if (!p.satisfaction && p.kind !== "nobody_home") out.satisfaction = t.satisfaction;
    if (length(p.notes.trim()) > +t.maxNotes) out.notes = t.notes;
    if (p.needs.length > +t.maxNeeds) out.needs = t.needs;
    p.needs.forEach((n, i) => {
      if (!n.category) out[`needs.${i}.category`] = t.category;
      if (!n.description) out[`needs.${i}.description`] = t.describe;
      else if (length(n.description) > +t.maxNeedText) out[`needs.${i}.description`] = t.needText;
    });
    return out;
  };

  // --- errors at their fields ---------------------------------------------------------

  // Where the server-rendered form shows the error for a field key (templates/visit_form.html
  // err()): {node, how} with how "after", "before" or "append"; null for a key with no field
  // on the form (household, id), which is then told only in the status line.
  const spotFor = (form, key) => {
    const parts = key.split(".");
    const named = (n) => form.querySelector(`[name='${n}']`);
    let el;
    if (parts[0] === "guarantees" || parts[0] === "environment") {
      const prefix = parts[0] === "guarantees" ? "g_" : "env_";
      if (parts.length === 1) {
        el = form.querySelector(`[name^='${prefix}']`);
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
      const row = filledNeeds(form)[+parts[1]];
      el = row === undefined ? null : named(`needs-${row}-${parts[2]}`);
      return el && { node: el, how: "after" };
    }
    el = named(key);
    if (!el) return null;
    if (el.type === "radio") return { node: el.closest(".row") || el.closest(".seg"), how: "after" };
    return { node: el, how: "after" };
  };

  // The label the form shows for a field key: the question of its row, or its section's title.
  const labelOnForm = (form, key) => {
    const spot = spotFor(form, key);
    if (!spot || !spot.node) return "";
    const legend = (node) => {
      const l = node.closest("fieldset").querySelector("legend");
      return l ? l.firstChild.textContent.trim() : "";
    };
    if (spot.node.matches(".row")) return spot.node.querySelector(".q").textContent.trim();
    const need = /^needs\.(\d+)\.\w+$/.exec(key);
    if (need) {
      return `${legend(spot.node)} ${+need[1] + 1} · ` +
        (spot.node.getAttribute("aria-label") || spot.node.getAttribute("placeholder") || "");
    }
    return legend(spot.node);
  };

  const clearErrors = (form) => {
    form.querySelectorAll(".missing").forEach((el) => el.classList.remove("missing"));
    // Also the server's, from a page it rendered with errors: they no longer apply.
    form.querySelectorAll("p.error:not(.fv-status)").forEach((el) => el.remove());
    const top = form.previousElementSibling;
    if (top && top.matches("p.error")) top.remove();
  };

  // Each problem next to its field, its section marked; returns the first one shown.
  const showErrors = (form, errors) => {
    let first = null;
    Object.keys(errors).forEach((key) => {
      const spot = spotFor(form, key);
      if (!spot || !spot.node) return;
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = errors[key];
      if (spot.how === "append") spot.node.appendChild(p);
      else if (spot.how === "before") spot.node.before(p);
      else spot.node.after(p);
      const section = p.closest("fieldset");
      if (section) section.classList.add("missing");
      if (!first) first = p;
    });
    return first;
  };

  const say = (form, message, bad, target) => {
    const el = form.querySelector(".fv-status");
    el.textContent = message;
    el.className = `fv-status ${message ? (bad ? "error" : "flash") : ""}`;
    if (message) (target || el).scrollIntoView({ block: "center" });
  };

  // --- saving through the phone's queue -----------------------------------------------

  // An empty form for the next visit, with a new id (the status line is left as it is).
  const fresh = (form, queue) => {
    form.reset();
    clearErrors(form);
    oneNeed(form);
    form.elements.id.value = queue.uuid();
    form.dispatchEvent(new Event("fv-reset"));  // evidence.js drops the photos, locates again
    form.querySelector("[data-once]").disabled = false;
  };

  // A page opened from the phone's cache days later still says the day it was cached:
  // today's date (the phone's) replaces the day the page was made, unless another was typed.
  const currentDay = (form) => {
    const input = form.elements.date, made = input.dataset.today, today = localToday();
    if (!made || made === today) return;
    input.max = today;
    if (input.defaultValue === made) input.defaultValue = today;
    if (input.value === made) input.value = today;
  };

  const setupSaving = (form, queue) => {
    const text = document.getElementById("fv-offline").dataset;
    // A page opened from the phone's cache carries the id it was cached with: a new id
    // each time the form opens keeps two visits from sharing one.
    form.elements.id.value = queue.uuid();
    currentDay(form);
    const button = form.querySelector("[data-once]");
    let stored = false;  // this form's visit is on the server
    // Back after saving: Chrome shows the page as it was left (the back-forward cache), the
    // saved answers still in it; a second save would only resend it. Start the next visit.
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted || !stored) return;
      stored = false;
      fresh(form, queue);
      say(form, "", false);
    });
    // Rows are added here, without a round trip. Older Safari has no event.submitter:
    // catch "再加一条需求" on its own click.
    const more = form.querySelector("button[name=add_need]");
    if (more) more.addEventListener("click", (event) => {
      event.preventDefault();
      addNeed(form);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (event.submitter && event.submitter.name === "add_need") {
        addNeed(form);
        return;
      }
      const payload = payloadFrom(form);
      const gaps = missing(form, payload);
      clearErrors(form);
      if (Object.keys(gaps).length) {
        say(form, text.incomplete, true, showErrors(form, gaps));
        return;
      }
      button.disabled = true;
      queue.add({ id: payload.id, payload, label: form.dataset.label, photos: form.fvPhotos || [] })
        .then((records) => {
          const left = records.find((r) => r.id === payload.id);
          if (!left) {
            stored = true;
            sessionStorage.setItem("fv-flash", text.saved);  // shown by app.js on the next page
            window.location.href = form.dataset.done;
            return undefined;
          }
          const why = queue.reasonText(left, (key) => labelOnForm(form, key));
          if (left.state === "refused" && !left.sent) {
            // Refused while the helper is still at the form: everything typed and the photos
            // stay, each problem by its field. A refusal the form can fix leaves the queue (the
            // helper fixes it here); one it cannot (the household is no longer theirs) stays
            // on /queue, where its content can be read out for the office.
            const fixable = Object.keys(left.errors || {}).some((k) => spotFor(form, k));
            return (fixable ? queue.discard(left.id) : Promise.resolve()).then(() => {
              say(form, why, true, showErrors(form, left.errors || {}));
              button.disabled = false;
            });
          }
          // Waiting for a connection, or stored with a photo refused: the visit is safe.
          if (left.state === "refused") say(form, why, true);
          else say(form, text.queued, false);
          fresh(form, queue);
          return undefined;
        }, () => {
          // The phone would not keep it (storage full or blocked): send the plain form.
          if (navigator.onLine) { form.submit(); return; }
          say(form, text.failed, true);
          button.disabled = false;
        });
    });
  };

  // --- every visit form (new visits and corrections) ----------------------------------

  document.querySelectorAll("form.visit").forEach((form) => {
    // "去掉" needs this script: without it the buttons stay hidden.
    form.querySelectorAll(".fv-drop-need").forEach((b) => { b.hidden = false; });
    form.addEventListener("click", (event) => {
      const drop = event.target.closest(".fv-drop-need");
      if (drop) {
        dropNeed(form, drop.closest(".need"));
        return;
      }
      // "全部是": answer every item of the section "yes" in one tap; each can still be changed.
      const fill = event.target.closest("[data-fill]");
      if (!fill) return;
      const prefix = fill.getAttribute("data-fill");
      const value = fill.getAttribute("data-value");
      form.querySelectorAll(`input[type=radio][name^="${prefix}"]`).forEach((input) => {
        if (input.value === value) input.checked = true;
      });
    });
    // A new visit is saved through the queue; a correction (no data-offline) or a phone
    // without IndexedDB (no fvQueue) posts the form to the server as it is.
    if (form.matches("[data-offline]") && window.fvQueue) setupSaving(form, window.fvQueue);
  });
})();
