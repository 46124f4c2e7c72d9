"""The stylesheet and script inlined into the HTML review, so that the page needs no network.

The script only reads the DOM the server rendered (it never builds HTML from strings), so the
user data in the page is never parsed as markup: filtering hides rows, sorting moves them.
"""

STYLE = """
:root { --fg:#172b4d; --muted:#5e6c84; --line:#dfe1e6; --bg:#f7f8f9; --card:#fff;
  --ok:#216e4e; --ok-bg:#dcfff1; --warn:#7f5f01; --warn-bg:#fff7d6; --off:#44546f;
  --off-bg:#f1f2f4; --bad:#ae2e24; --bad-bg:#ffeceb; --info:#0055cc; --info-bg:#e9f2ff;
  --adm:#5e4db2; --adm-bg:#f3f0ff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",
  Arial,sans-serif; color:var(--fg); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:20px 32px; }
h1 { font-size:22px; margin:0 0 4px; }
h2 { font-size:17px; margin:28px 0 10px; }
h3 { font-size:15px; margin:0 0 8px; }
main { padding:0 32px 40px; max-width:1500px; }
.muted, .meta { color:var(--muted); }
.meta { margin:0; }
.orgs { display:grid; grid-template-columns:repeat(auto-fill,minmax(460px,1fr)); gap:16px; }
.org { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px; }
.stats { display:grid; grid-template-columns:repeat(auto-fit,minmax(90px,1fr)); gap:8px;
  margin:10px 0; }
.stats.minor dd { font-size:15px; }
.stats.minor div { padding:5px 10px; }
.stats div { background:var(--bg); border-radius:6px; padding:8px 10px; }
.stats dt { font-size:12px; color:var(--muted); }
.stats dd { margin:0; font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; }
.stats .reclaim { background:var(--bad-bg); }
.stats .reclaim dd { color:var(--bad); }
.stats .muted dd { color:var(--muted); }
.org p { margin:6px 0 0; font-size:13px; }
.org p.note { color:var(--warn); background:var(--warn-bg); border-radius:4px; padding:4px 8px; }
td .by { color:var(--muted); font-size:12px; }
.controls { display:flex; gap:10px; align-items:center; flex-wrap:wrap; margin-bottom:10px; }
.controls input, .controls select { font:inherit; padding:6px 10px; border:1px solid #8590a2;
  border-radius:4px; background:#fff; }
.controls input { width:340px; }
table { border-collapse:collapse; width:100%; background:var(--card);
  border:1px solid var(--line); }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { background:#f1f2f4; font-size:12px; text-transform:uppercase; letter-spacing:.03em;
  color:var(--muted); position:sticky; top:0; cursor:pointer; user-select:none;
  white-space:nowrap; }
th:hover { color:var(--fg); }
th[aria-sort=ascending]::after { content:" \\25B2"; }
th[aria-sort=descending]::after { content:" \\25BC"; }
tbody tr:hover { background:#f8f9ff; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.who .email { font-weight:600; }
.who .name, .who .res { color:var(--muted); font-size:12px; }
.pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px;
  font-weight:600; margin:1px 2px 1px 0; white-space:nowrap; }
.s-Active { color:var(--ok); background:var(--ok-bg); }
.s-Suspended { color:var(--warn); background:var(--warn-bg); }
.s-Deprovisioned, .s-Unknown { color:var(--off); background:var(--off-bg); }
.f-protected { color:var(--info); background:var(--info-bg); }
.f-admin { color:var(--adm); background:var(--adm-bg); }
.f-IdP, .f-unmanaged, .f-exempt { color:var(--off); background:var(--off-bg); }
.f-eligible { color:var(--bad); background:var(--bad-bg); }
.f-refused, .f-kept-by-intent { color:var(--warn); background:var(--warn-bg); }
.prod { display:inline-block; margin:1px 6px 1px 0; white-space:nowrap; }
.prod.gone { color:var(--muted); text-decoration:line-through; }
.idle-long { color:var(--bad); font-weight:600; }
details.app { background:var(--card); border:1px solid var(--line); border-radius:8px;
  margin-bottom:10px; }
details.app > summary { padding:10px 16px; cursor:pointer; }
details.app > summary b { font-size:15px; }
details.app table { border:0; border-top:1px solid var(--line); }
details.app td.s-Active, details.app td.s-Suspended, details.app td.s-Deprovisioned,
details.app td.s-Unknown { background:none; font-weight:600; font-size:13px; }
details.app .who .name { margin-left:6px; }
.empty { color:var(--muted); font-style:italic; }
"""

SCRIPT = """
(function () {
  'use strict';
  var table = document.getElementById('accounts');
  var rows = table ? Array.prototype.slice.call(table.tBodies[0].rows) : [];
  var text = rows.map(function (r) { return r.textContent.toLowerCase(); });
  var filter = document.getElementById('filter');
  var state = document.getElementById('state');
  var flag = document.getElementById('flag');
  var shown = document.getElementById('shown');
  function apply() {
    var q = filter.value.trim().toLowerCase(), s = state.value, f = flag.value, n = 0;
    rows.forEach(function (r, i) {
      var ok = (!q || text[i].indexOf(q) >= 0) && (!s || r.dataset.state === s) &&
        (!f || (' ' + r.dataset.flags + ' ').indexOf(' ' + f + ' ') >= 0);
      r.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = String(n);
  }
  if (table) {
    filter.addEventListener('input', apply);
    state.addEventListener('change', apply);
    flag.addEventListener('change', apply);
  }
  function key(cell, type) {
    var v = cell.hasAttribute('data-sort') ? cell.getAttribute('data-sort') : cell.textContent;
    if (v === '') { return null; }
    return type === 'number' ? parseFloat(v) : v.toLowerCase();
  }
  function sortBy(th) {
    var t = th.closest('table'), body = t.tBodies[0], col = th.cellIndex;
    var type = th.getAttribute('data-type') || 'text';
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    Array.prototype.forEach.call(th.parentNode.cells, function (c) {
      c.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var sorted = Array.prototype.slice.call(body.rows).map(function (r, i) {
      return { row: r, key: key(r.cells[col], type), i: i };
    }).sort(function (a, b) {
      if (a.key === b.key) { return a.i - b.i; }
      if (a.key === null) { return 1; }
      if (b.key === null) { return -1; }
      return (a.key < b.key ? -1 : 1) * dir;
    });
    var frag = document.createDocumentFragment();
    sorted.forEach(function (e) { frag.appendChild(e.row); });
    body.appendChild(frag);
  }
  document.querySelectorAll('table.sortable thead th').forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener('click', function () { sortBy(th); });
    th.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(th); }
    });
  });
})();
"""
