// view.js: DOM helpers. Everything from the server is put on the page as
// text (text nodes, textContent, attribute values set one by one): no
// string of HTML is ever parsed, so a stored "<img onerror=…>" stays text.

// h builds an element: h('div', {class: 'x', onclick: fn}, child, …).
// Children are nodes or strings (added as text); null/false are skipped.
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k === 'value') e.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'open' || k === 'selected' || k === 'hidden') e[k] = !!v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace empties e and puts children in it.
export function replace(e, ...children) {
  e.replaceChildren();
  append(e, children);
  return e;
}

export function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(v) : v.toFixed(1)) + ' ' + units[i];
}

export function num(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function duration(seconds) {
  if (seconds === undefined || seconds === null) return '–';
  const s = Math.abs(seconds);
  if (s < 1) return (seconds * 1000).toFixed(s < 0.01 ? 2 : 0) + ' ms';
  if (s < 120) return seconds.toFixed(1) + ' s';
  if (s < 7200) return (seconds / 60).toFixed(1) + ' min';
  if (s < 172800) return (seconds / 3600).toFixed(1) + ' h';
  return (seconds / 86400).toFixed(1) + ' d';
}

// ago is how long ago an RFC 3339 time was, e.g. "12 s ago".
export function ago(iso) {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const d = (Date.now() - t) / 1000;
  return d >= 0 ? duration(d) + ' ago' : 'in ' + duration(-d);
}

// time shows an RFC 3339 time as "ago", with the exact time as a tooltip.
export function time(iso) {
  return h('time', { datetime: iso || '', title: iso || '' }, ago(iso));
}

export function badge(status) {
  const s = String(status || 'unknown');
  return h('span', { class: 'badge ' + (['healthy', 'degraded', 'unhealthy', 'done', 'running', 'failed', 'canceled', 'ok'].includes(s) ? s : 'unknown') }, s);
}

// compact is a JSON value on one line, cut at max characters.
export function compact(v, max = 160) {
  let s;
  try { s = JSON.stringify(v); } catch { s = String(v); }
  if (s === undefined) s = String(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

// jsonTree renders a JSON value as a foldable tree of <details>: objects
// and arrays fold, levels below `open` start folded.
export function jsonTree(value, open = 2) {
  return h('div', { class: 'json' }, node(value, open, 0));
}

function node(v, open, depth) {
  if (v === null || typeof v !== 'object') return scalar(v);
  const isArr = Array.isArray(v);
  const keys = isArr ? v.map((_, i) => i) : Object.keys(v);
  if (keys.length === 0) return h('span', { class: 'j-punct' }, isArr ? '[]' : '{}');
  const summary = h('summary', {}, h('span', { class: 'j-punct' }, isArr ? '[' : '{'),
    h('span', { class: 'j-count' }, ` ${keys.length} ${isArr ? (keys.length === 1 ? 'item' : 'items') : (keys.length === 1 ? 'key' : 'keys')} `),
    h('span', { class: 'j-punct' }, isArr ? ']' : '}'));
  const list = h('ul', {});
  for (const k of keys) {
    list.append(h('li', {},
      h('span', { class: isArr ? 'j-index' : 'j-key' }, isArr ? String(k) : JSON.stringify(k)),
      h('span', { class: 'j-punct' }, ': '),
      node(v[k], open, depth + 1)));
  }
  return h('details', { open: depth < open }, summary, list);
}

function scalar(v) {
  const t = v === null ? 'null' : typeof v;
  return h('span', { class: 'j-' + t }, JSON.stringify(v));
}

// Diff: jsondiffpatch computes a structural delta; changes() flattens it
// into rows of {path, kind, from, to}, rendered as text by diffTable.
let differ = null;
function diffPatcher() {
  if (!differ) {
    differ = window.jsondiffpatch.create({
      // Arrays of objects match by an "id" or "key" field when they have one.
      objectHash: (o, i) => (o && typeof o === 'object' && (o.id ?? o.key ?? o.name)) ?? ('$$index:' + i),
      arrays: { detectMove: true, includeValueOnMove: false },
      // No character-level text diffs (the slim build has no engine for
      // them): a changed string is shown whole, before and after.
      textDiff: { minLength: Number.MAX_SAFE_INTEGER },
      cloneDiffValues: true,
    });
  }
  return differ;
}

export function diff(a, b) {
  return diffPatcher().diff(a, b);
}

function pathText(path) {
  let s = '$';
  for (const p of path) {
    if (typeof p === 'number') s += '[' + p + ']';
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p)) s += '.' + p;
    else s += '[' + JSON.stringify(p) + ']';
  }
  return s;
}

export function changes(delta, path = [], out = []) {
  if (delta === undefined) return out;
  if (Array.isArray(delta)) {
    if (delta.length === 1) out.push({ path: pathText(path), kind: 'added', to: delta[0] });
    else if (delta.length === 2) out.push({ path: pathText(path), kind: 'changed', from: delta[0], to: delta[1] });
    else if (delta.length === 3 && delta[2] === 0) out.push({ path: pathText(path), kind: 'removed', from: delta[0] });
    else if (delta.length === 3 && delta[2] === 3) out.push({ path: pathText(path), kind: 'moved', to: 'to index ' + delta[1] });
    else out.push({ path: pathText(path), kind: 'changed', to: delta[0] });
    return out;
  }
  if (delta && typeof delta === 'object') {
    const isArr = delta._t === 'a';
    for (const k of Object.keys(delta)) {
      if (isArr && k === '_t') continue;
      let key = k;
      if (isArr) key = Number(k.startsWith('_') ? k.slice(1) : k);
      changes(delta[k], path.concat([key]), out);
    }
  }
  return out;
}

export function diffTable(rows, id) {
  if (rows.length === 0) return h('p', { class: 'muted', id: id + '-none' }, 'The two versions are identical.');
  return h('table', { class: 'diff', id },
    h('thead', {}, h('tr', {}, h('th', {}, 'path'), h('th', {}, 'change'), h('th', {}, 'before'), h('th', {}, 'after'))),
    h('tbody', {}, rows.map((r) => h('tr', { class: 'd-' + r.kind },
      h('td', { class: 'mono' }, r.path),
      h('td', {}, r.kind),
      h('td', { class: 'mono' }, 'from' in r ? compact(r.from, 400) : ''),
      h('td', { class: 'mono' }, 'to' in r ? (typeof r.to === 'string' && r.kind === 'moved' ? r.to : compact(r.to, 400)) : '')))));
}

// confirmAction asks before anything that writes; it resolves to true
// when the operator confirms.
export function confirmAction(text) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
  });
}

export function kv(rows) {
  return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}
