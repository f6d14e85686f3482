// Small helpers for every page. Everything works without this script; it only saves taps.
// The visit form's own code is in visit_form.js, the offline queue in offline.js.
(() => {
  "use strict";

  // A message left for the next page by a script that moved on (the visit form, once the
  // visit is stored): shown once, like the server's own flashed messages.
  const flashed = sessionStorage.getItem("fv-flash");
  const main = document.querySelector("main");
  if (flashed && main) {
    sessionStorage.removeItem("fv-flash");
    const p = document.createElement("p");
    p.className = "flash";
    p.setAttribute("role", "status");
    p.textContent = flashed;
    main.prepend(p);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    const confirmText = form.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) {
      event.preventDefault();
      return;
    }
    // A double tap sends the same client id twice, which the server stores once; disabling
    // the button just spares the second request. A form whose submission a script took over
    // (the visit form, visit_form.js) enables and disables its button itself: left disabled
    // here, a form kept on the page after a refusal could not be sent again.
    const once = form.querySelector("[data-once]");
    if (once && event.submitter === once && !event.defaultPrevented) {
      setTimeout(() => { once.disabled = true; }, 0);
    }
  });
})();
