/* trustaudit report: optional sorting of tables, filtering of examples and of the rows where the models differ. Everything is readable without it. */
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.children[index];
    var text = cell ? cell.textContent.trim() : "";
    var number = parseFloat(text.replace(/[%,+]/g, "").replace("−", "-"));
    return isNaN(number) ? text.toLowerCase() : number;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, index) {
      th.style.cursor = "pointer";
      th.title = "sort";
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var ascending = th.getAttribute("data-order") !== "asc";
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          if (x < y) { return ascending ? -1 : 1; }
          if (x > y) { return ascending ? 1 : -1; }
          return 0;
        });
        th.setAttribute("data-order", ascending ? "asc" : "desc");
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  var filter = document.getElementById("example-filter");
  var flipsOnly = document.getElementById("flips-only");
  function applyFilter() {
    var needle = filter ? filter.value.trim().toLowerCase() : "";
    var onlyFlips = flipsOnly && flipsOnly.checked;
    document.querySelectorAll("#examples .example").forEach(function (example) {
      var show = (!needle || example.textContent.toLowerCase().indexOf(needle) >= 0) &&
                 (!onlyFlips || example.getAttribute("data-flip") === "yes");
      example.style.display = show ? "" : "none";
    });
  }
  if (filter) { filter.addEventListener("input", applyFilter); }
  if (flipsOnly) { flipsOnly.addEventListener("change", applyFilter); }
  var flipKind = document.getElementById("flip-kind");
  function applyKind() {
    var kind = flipKind.value;
    document.querySelectorAll("#disagreements tbody tr").forEach(function (row) {
      row.style.display = (!kind || row.getAttribute("data-kind") === kind) ? "" : "none";
    });
  }
  if (flipKind) { flipKind.addEventListener("change", applyKind); }
}());
