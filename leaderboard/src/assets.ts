/**
 * The site's stylesheet and script, written as local files (no CDN: the site works offline and from
 * a plain file server). The script only reorders and hides existing rows and sets textContent; it
 * never parses HTML, so entry strings cannot become markup.
 */

export const SITE_CSS = `
:root { --fg: #1d2430; --muted: #5b6675; --line: #d8dde4; --bg: #fff; --head: #f3f5f8; --dbp: #1f77b4; --at: #d62728; --none: #7f7f7f; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; max-width: 1360px; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: .4rem 0 .2rem; } h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.muted { color: var(--muted); } .small { font-size: .85rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
th[data-sortable] { cursor: pointer; user-select: none; }
th[data-sortable]::after { content: " ↕"; color: var(--muted); font-weight: 400; }
th[aria-sort="ascending"]::after { content: " ▲"; color: var(--fg); }
th[aria-sort="descending"]::after { content: " ▼"; color: var(--fg); }
td.num, th.num { text-align: right; }
td.model { min-width: 11rem; max-width: 17rem; }
td.flags { max-width: 8rem; font-size: .85em; overflow-wrap: normal; } td.flags .badge { white-space: normal; }
h1, td, dd { overflow-wrap: anywhere; }
td.model .paper, td .sub, td .by { display: block; font-size: .75rem; color: var(--muted); white-space: normal; font-weight: 400; }
td .ci { display: block; font-size: .75rem; color: var(--muted); font-weight: 400; }
td.num .ci, td.num .by { white-space: nowrap; }
table.lb th { white-space: normal; vertical-align: bottom; }
table.lb td.worst { min-width: 6.5rem; }
td.worst { font-weight: 600; background: #f6f9ff; }
.table-wrap { overflow-x: auto; max-width: 100%; margin: .5rem 0 1rem; border: 1px solid var(--line); border-radius: 6px; }
.table-wrap table { margin: 0; }
table.lb th.model, table.lb td.model { position: sticky; left: 0; background: var(--bg); z-index: 1; box-shadow: 1px 0 0 var(--line); }
table.lb th.model { background: var(--head); }
table.lb td.fam a, table.lb td.worst a { text-decoration: none; }
h2 .eps[title] { text-decoration: underline dotted; cursor: help; }
@media (max-width: 700px) {
  body { padding: .5rem .5rem 2rem; font-size: 14px; }
  th, td { padding: .25rem .3rem; }
  th.rank, td.rank { display: none; }
  td.model { min-width: 7rem; max-width: 9rem; word-break: break-word; }
  td.model .paper, td.model .sub { display: none; }
  .filters { gap: .5rem; }
  dl.kv { grid-template-columns: 1fr; }
  table:not(.lb):not(.metrics) { display: block; overflow-x: auto; }
}
td.num { white-space: nowrap; }
tr[hidden], circle[hidden], g[hidden] { display: none; }
.filters { display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; background: var(--head); padding: .6rem .8rem; border-radius: 6px; }
.filters label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
.filters select { font: inherit; padding: .15rem .3rem; }
.badge { display: inline-block; font-size: .75rem; padding: 0 .4rem; border-radius: 999px; border: 1px solid var(--line); margin-right: .25rem; white-space: nowrap; }
.badge.dbp { border-color: var(--dbp); color: var(--dbp); } .badge.at { border-color: var(--at); color: var(--at); } .badge.none { border-color: var(--none); color: var(--none); }
.badge.warn { border-color: #b26b00; color: #b26b00; }
.badge.stalled { background: #b00020; border-color: #b00020; color: #fff; font-weight: 600; }
.warn-box { border-left: 4px solid #b00020; padding: .4rem .75rem; background: rgba(176, 0, 32, .08); }
table.checks tr.flagged td { background: rgba(176, 0, 32, .08); }
svg.scatter { max-width: 480px; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
svg.scatter .axis { stroke: #888; stroke-width: 1; } svg.scatter .grid { stroke: #eee; stroke-width: 1; }
svg.scatter text { font-size: 11px; fill: var(--muted); }
svg.scatter circle { stroke-width: 2; fill-opacity: .8; }
svg.scatter circle.dbp { fill: var(--dbp); stroke: var(--dbp); } svg.scatter circle.at { fill: var(--at); stroke: var(--at); } svg.scatter circle.none { fill: var(--none); stroke: var(--none); }
svg.scatter circle.reported { fill: #fff; }
svg.scatter line.span { stroke-width: 1.5; stroke-opacity: .5; } svg.scatter line.dbp { stroke: var(--dbp); } svg.scatter line.at { stroke: var(--at); } svg.scatter line.none { stroke: var(--none); }
svg.scatter rect.dbp { fill: var(--dbp); } svg.scatter rect.at { fill: var(--at); } svg.scatter rect.none { fill: var(--none); }
svg.scatter text.label { font-size: 10px; fill: var(--fg); font-weight: 600; }
figure.plot { margin: .5rem 0 1rem; }
svg.curve { max-width: 640px; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
svg.curve text, svg.hist text { font-size: 11px; fill: var(--muted); } svg.curve .axis, svg.hist .axis { stroke: #888; } svg.curve .grid, svg.hist .grid { stroke: #eee; }
svg.curve polyline { fill: none; stroke-width: 2; } svg.curve polyline.wor { stroke-dasharray: 5 3; }
svg.curve text.pt-label { font-size: 10px; font-weight: 600; }
svg.hist text.title { font-size: 12px; fill: var(--fg); font-weight: 600; } svg.hist text.bar-label { font-size: 9px; fill: var(--fg); }
.hists { display: flex; flex-wrap: wrap; gap: .5rem; } svg.hist { width: 260px; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
.legend svg.swatch { vertical-align: -1px; }
pre.json, pre.text { background: var(--head); padding: .5rem .7rem; border-radius: 6px; overflow-x: auto; font-size: .85rem; white-space: pre-wrap; word-break: break-word; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; word-break: break-word; }
.legend span { margin-right: 1rem; }
nav.site-nav { font-size: .9rem; margin: .2rem 0; } nav.site-nav a { margin-right: .25rem; }
table.study td.cell { min-width: 7.5rem; } table.study td.label { min-width: 9rem; max-width: 16rem; }
table.study td.cell a { font-weight: 600; text-decoration: none; }
table.study td.pending .pending { font-style: italic; color: var(--muted); white-space: nowrap; }
table.study td.verdict { min-width: 12rem; } span.verdict { font-weight: 600; }
span.verdict.separated { color: #1a7f37; } span.verdict.overlap { color: #9a6700; } span.verdict.reversed { color: #b00020; } span.verdict.not-finished { color: var(--muted); font-style: italic; }
ul.protocol li { margin: .15rem 0; }
figure.study-fig { margin: 1rem 0 1.5rem; max-width: 100%; } figure.study-fig img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
figure.study-fig figcaption { font-size: .85rem; color: var(--muted); margin-top: .3rem; }
code { font-size: .9em; background: var(--head); padding: 0 .2rem; border-radius: 3px; overflow-wrap: anywhere; }
`;

export const SITE_JS = `
(function () {
  'use strict';
  function sortValue(cell, numeric) {
    var raw = cell.getAttribute('data-sort');
    if (raw === null) raw = cell.textContent || '';
    if (!numeric) return raw.toLowerCase();
    var v = parseFloat(raw);
    return isNaN(v) ? null : v;
  }
  function sortTable(table, col, th) {
    var numeric = th.getAttribute('data-type') === 'number';
    var current = th.getAttribute('aria-sort');
    var dir = current === 'descending' ? 'ascending' : current === 'ascending' ? 'descending' : (numeric ? 'descending' : 'ascending');
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) { other.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var sign = dir === 'ascending' ? 1 : -1;
    rows.sort(function (a, b) {
      var x = sortValue(a.cells[col], numeric), y = sortValue(b.cells[col], numeric);
      if (x === null && y === null) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return x < y ? -sign : x > y ? sign : 0;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function setupSorting() {
    var tables = document.querySelectorAll('table.lb');
    Array.prototype.forEach.call(tables, function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        if (!th.hasAttribute('data-sortable')) return;
        th.tabIndex = 0;
        th.addEventListener('click', function () { sortTable(table, col, th); });
        th.addEventListener('keydown', function (ev) {
          if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); sortTable(table, col, th); }
        });
      });
    });
  }
  function value(id) { var el = document.getElementById(id); return el ? el.value : 'all'; }
  function applyFilters() {
    var family = value('filter-family'), attack = value('filter-attack'), kind = value('filter-kind');
    var shown = 0, total = 0;
    var items = document.querySelectorAll('[data-entry]');
    Array.prototype.forEach.call(items, function (el) {
      var attacks = [];
      try { attacks = JSON.parse(el.getAttribute('data-attacks') || '[]'); } catch (e) { attacks = []; }
      var ok = (family === 'all' || el.getAttribute('data-family') === family) &&
        (kind === 'all' || el.getAttribute('data-kind') === kind) &&
        (attack === 'all' || attacks.indexOf(attack) >= 0);
      if (ok) el.removeAttribute('hidden'); else el.setAttribute('hidden', '');
      if (el.tagName.toLowerCase() === 'tr') { total++; if (ok) shown++; }
    });
    var count = document.getElementById('filter-count');
    if (count) count.textContent = shown + ' of ' + total + ' defenses shown';
  }
  function setupFilters() {
    ['filter-family', 'filter-attack', 'filter-kind'].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.addEventListener('change', applyFilters);
    });
    if (document.getElementById('filter-family')) applyFilters();
  }
  setupSorting();
  setupFilters();
})();
`;
