// Small helpers for the visit form. Everything works without this script; it only saves taps.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
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
    // the button just spares the second request.
    var once = form.querySelector("[data-once]");
    if (once && event.submitter === once) {
      setTimeout(function () { once.disabled = true; }, 0);
    }
  });
})();
