// Click a column heading of a table with class "sortable" to sort its rows; click again to
// reverse. Without this script the tables keep the order the server chose, which is the
// useful one (the furthest behind first), so nothing depends on it.
(function () {
  "use strict";

  // A cell sorts by its data-sort attribute when it has one (a rate shown as "93.8%"),
  // otherwise by its text; numbers as numbers, Chinese in pinyin order where the browser
  // knows it.
  function key(cell) {
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    raw = raw.trim();
    var number = raw.replace(/[,%\s]/g, "");
    if (number !== "" && !isNaN(number)) return { n: parseFloat(number), t: raw };
    return { n: null, t: raw };
  }

  var collator = window.Intl ? new Intl.Collator("zh-CN", { numeric: true }) : null;

  function compare(a, b) {
    if (a.n !== null && b.n !== null) return a.n - b.n;
    if (a.n !== null) return -1; // numbers before text (an empty cell sorts last)
    if (b.n !== null) return 1;
    return collator ? collator.compare(a.t, b.t) : a.t < b.t ? -1 : a.t > b.t ? 1 : 0;
  }

  function sortBy(table, column, button) {
    var th = button.parentNode;
    var descending = th.getAttribute("aria-sort") === "ascending";
    table.querySelectorAll("thead th").forEach(function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    Array.prototype.forEach.call(table.tBodies, function (body) {
      var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
        return { row: row, key: key(row.cells[column]), index: index };
      });
      rows.sort(function (a, b) {
        var order = compare(a.key, b.key) || a.index - b.index; // stable: ties keep their order
        return descending ? -order : order;
      });
      var fragment = document.createDocumentFragment();
      rows.forEach(function (item) { fragment.appendChild(item.row); });
      body.appendChild(fragment);
    });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headings = table.querySelectorAll("thead th");
    headings.forEach(function (th, column) {
      // A real button: reachable by keyboard and announced as something to press.
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () { sortBy(table, column, button); });
    });
  });
})();
