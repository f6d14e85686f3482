// Small helpers for the visit form. Everything works without this script; it only saves taps.
(function () {
  "use strict";
  // "去掉" on a need row: the row goes and the rows after it move up (names are numbered by
  // row, need_rows counts them); the last row left is emptied instead, so that
  // "再加一条需求" has a row to copy.
  function dropNeed(form, row) {
    var rows = form.querySelectorAll(".need");
    if (rows.length === 1) {
      row.querySelectorAll("[name]").forEach(function (el) {
        if (el.type === "checkbox") el.checked = false; else el.value = "";
      });
      row.querySelectorAll(".error").forEach(function (el) { el.remove(); });
      return;
    }
    row.remove();
    form.querySelectorAll(".need").forEach(function (r, i) {
      r.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/^needs-\d+-/, "needs-" + i + "-");
      });
    });
    form.elements.need_rows.value = rows.length - 1;
  }
  document.querySelectorAll(".fv-drop-need").forEach(function (b) { b.hidden = false; });

  document.addEventListener("click", function (event) {
    var drop = event.target.closest(".fv-drop-need");
    if (drop) {
      dropNeed(drop.closest("form"), drop.closest(".need"));
      return;
    }
    var fill = event.target.closest("[data-fill]");
    if (!fill) return;
    // "全部是": answer every item of the section "yes" in one tap; each can still be changed.
    var form = fill.closest("form");
    var prefix = fill.getAttribute("data-fill");
    var value = fill.getAttribute("data-value");
    form.querySelectorAll('input[type=radio][name^="' + prefix + '"]').forEach(function (input) {
      if (input.value === value) input.checked = true;
    });
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var confirmText = form.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) {
      event.preventDefault();
      return;
    }
    // A double tap sends the same client id twice, which the server stores once; disabling
    // the button just spares the second request. A form whose submission a script took over
    // (the visit form, offline.js) enables and disables its button itself: left disabled
    // here, a form kept on the page after a refusal could not be sent again.
    var once = form.querySelector("[data-once]");
    if (once && event.submitter === once && !event.defaultPrevented) {
      setTimeout(function () { once.disabled = true; }, 0);
    }
  });
})();
