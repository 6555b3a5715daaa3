// keys.js: the hub's keyboard shortcuts. "/" focuses the page's filter or search form
// (its first field); "j" and "k" move a highlight down and up the rows of the page's
// first list table, and Enter opens the highlighted row's first link. Keys typed into a
// field, or with a modifier, are left alone.
(function () {
  "use strict";
  var current = -1;
  var typing = function (el) {
    return el && (el.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName));
  };
  var rows = function () {
    var table = document.querySelector("main table tbody");
    return table ? Array.prototype.slice.call(table.querySelectorAll("tr")) : [];
  };
  var move = function (delta) {
    var list = rows();
    if (!list.length) { return; }
    if (current >= 0 && current < list.length) { list[current].classList.remove("kb-current"); }
    current = Math.min(list.length - 1, Math.max(0, current + delta));
    var row = list[current];
    row.classList.add("kb-current");
    var link = row.querySelector("a");
    if (link) { link.focus({ preventScroll: true }); }
    row.scrollIntoView({ block: "nearest" });
  };
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) { return; }
    if (ev.key === "/") {
      var field = document.querySelector("main form.filters input:not([type=hidden]), main form.filters select, main form[role=search] input");
      if (field) { ev.preventDefault(); field.focus(); }
    } else if (ev.key === "j") {
      move(1);
    } else if (ev.key === "k") {
      move(-1);
    }
  });
})();
