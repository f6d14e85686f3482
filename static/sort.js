// Click a column heading of a table with class "sortable" to sort its rows; click again to
// reverse. Without this script the tables keep the order the server chose, which is the
// useful one (the furthest behind first), so nothing depends on it.
(() => {
  "use strict";

  // A cell sorts by its data-sort attribute when it has one (a rate shown as "93.8%"),
  // otherwise by its text; numbers as numbers, Chinese in pinyin order where the browser
  // knows it.
  const key = (cell) => {
    const raw = (cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent).trim();
    const number = raw.replace(/[,%\s]/g, "");
    if (number !== "" && !isNaN(number)) return { n: parseFloat(number), t: raw };
    return { n: null, t: raw };
  };

  const collator = window.Intl ? new Intl.Collator("zh-CN", { numeric: true }) : null;

  const compare = (a, b) => {
    if (a.n !== null && b.n !== null) return a.n - b.n;
    if (a.n !== null) return -1; // numbers before text (an empty cell sorts last)
    if (b.n !== null) return 1;
    if (collator) return collator.compare(a.t, b.t);
    return a.t < b.t ? -1 : a.t > b.t ? 1 : 0;
  };

  const sortBy = (table, column, button) => {
    const th = button.parentNode;
    const descending = th.getAttribute("aria-sort") === "ascending";
    table.querySelectorAll("thead th").forEach((other) => other.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    Array.from(table.tBodies).forEach((body) => {
      const rows = Array.from(body.rows, (row, index) => ({ row, key: key(row.cells[column]), index }));
      rows.sort((a, b) => {
        const order = compare(a.key, b.key) || a.index - b.index; // stable: ties keep their order
        return descending ? -order : order;
      });
      const fragment = document.createDocumentFragment();
      rows.forEach((item) => fragment.appendChild(item.row));
      body.appendChild(fragment);
    });
  };

  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead th").forEach((th, column) => {
      // A real button: reachable by keyboard and announced as something to press.
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", () => sortBy(table, column, button));
    });
  });
})();
