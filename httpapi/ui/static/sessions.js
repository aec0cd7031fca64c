// sessions.js: the session list (cursor paging, metadata search) and a
// session's page (history with foldable states, a diff between any two
// versions, new snapshots appearing live from the event stream).
import { get, watch, ApiError } from './api.js';
import { h, replace, bytes, num, compact, jsonTree, diff, changes, diffTable, kv, errorBox, time, duration } from './view.js';

const PAGE = 25;

// parseSearch reads "team=a user=ada" into metadata.<key>=<value> pairs.
function parseSearch(text) {
  const out = [];
  for (const part of text.trim().split(/\s+/)) {
    if (!part) continue;
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`search term "${part}": write key=value`);
    out.push([part.slice(0, i), part.slice(i + 1)]);
  }
  return out;
}

function sessionURL(id) { return '#/session/' + encodeURIComponent(id); }

// renderList shows the sessions page; params come from the hash
// (?q=…&cursor=…).
export function renderList(main, params) {
  const q = params.get('q') || '';
  const cursor = params.get('cursor') || '';
  const form = h('form', { class: 'search', id: 'search-form' },
    h('input', { id: 'search', type: 'search', name: 'q', value: q, placeholder: 'metadata search: key=value key2=value2', 'aria-label': 'metadata search', autocomplete: 'off' }),
    h('button', { type: 'submit' }, 'Search'),
    q ? h('a', { href: '#/sessions', class: 'button' }, 'Clear') : null);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = form.querySelector('#search').value.trim();
    location.hash = '#/sessions' + (v ? '?q=' + encodeURIComponent(v) : '');
  });
  const body = h('div', { id: 'sessions-body' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('h1', {}, 'Sessions'), form, body);
  const ctl = new AbortController();
  (async () => {
    try {
      const u = new URLSearchParams();
      u.set('limit', String(PAGE));
      if (cursor) u.set('cursor', cursor);
      for (const [k, v] of parseSearch(q)) u.append('metadata.' + k, v);
      const { data } = await get('/v1/sessions?' + u.toString(), { signal: ctl.signal });
      const rows = data.sessions || [];
      const table = h('table', { class: 'list', id: 'sessions-table' },
        h('thead', {}, h('tr', {}, ['id', 'version', 'snapshots', 'last active', 'TTL', 'expires', 'metadata'].map((c) => h('th', {}, c)))),
        h('tbody', {}, rows.map((s) => h('tr', {},
          h('td', { class: 'mono' }, h('a', { href: sessionURL(s.id) }, s.id)),
          h('td', {}, num(s.version)),
          h('td', {}, num(s.snapshot_count)),
          h('td', {}, time(s.last_active)),
          h('td', {}, s.ttl_seconds ? duration(s.ttl_seconds) : 'none'),
          h('td', {}, s.expires_at ? time(s.expires_at) : '–'),
          h('td', { class: 'mono meta' }, compact(s.metadata || {}, 120))))));
      const next = data.next_cursor ? h('a', { class: 'button', id: 'next-page', href: '#/sessions?' + new URLSearchParams({ ...(q ? { q } : {}), cursor: data.next_cursor }).toString() }, 'Next page →') : null;
      const first = cursor ? h('a', { class: 'button', href: '#/sessions' + (q ? '?q=' + encodeURIComponent(q) : '') }, '← First page') : null;
      replace(body,
        rows.length ? h('div', { class: 'scroll' }, table) : h('p', { class: 'muted' }, q ? 'No session matches.' : 'No sessions yet.'),
        h('p', { class: 'pager' }, first, ' ', next));
    } catch (e) {
      if (!ctl.signal.aborted) replace(body, errorBox(e));
    }
  })();
  return () => ctl.abort();
}

// snapshotCard renders one version of the history.
function snapshotCard(s, fresh) {
  return h('article', { class: 'snapshot' + (fresh ? ' fresh' : ''), id: 'v' + s.version, 'data-version': s.version },
    h('header', {},
      h('b', {}, 'v' + s.version), ' · ', time(s.created_at), ' · ', bytes(s.size_bytes),
      s.key ? [' · key ', h('span', { class: 'mono' }, s.key)] : null,
      fresh ? h('span', { class: 'badge running' }, 'new') : null),
    s.metadata && Object.keys(s.metadata).length ? h('div', { class: 'meta' }, h('span', { class: 'muted' }, 'metadata '), jsonTree(s.metadata, 1)) : null,
    'state' in s ? jsonTree(s.state, 1) : h('p', { class: 'muted' }, 'state not loaded'));
}

// renderSession shows one session's page.
export function renderSession(main, id) {
  const ctl = new AbortController();
  const head = h('div', { id: 'session-head' }, h('p', { class: 'muted' }, 'Loading…'));
  const live = h('span', { id: 'live', class: 'badge unknown' }, 'connecting');
  const fromIn = h('input', { id: 'diff-from', type: 'number', min: '1', 'aria-label': 'from version' });
  const toIn = h('input', { id: 'diff-to', type: 'number', min: '1', 'aria-label': 'to version' });
  const diffOut = h('div', { id: 'diff-out' });
  const diffForm = h('form', { class: 'diff-form', id: 'diff-form' }, 'Diff version ', fromIn, ' → ', toIn, ' ', h('button', { type: 'submit', id: 'diff-run' }, 'Show diff'));
  const list = h('div', { id: 'history' });
  const more = h('p', { class: 'pager' });
  replace(main,
    h('p', {}, h('a', { href: '#/sessions' }, '← Sessions')),
    h('h1', { class: 'mono' }, id),
    head,
    h('section', { class: 'panel' }, h('h3', {}, 'Diff'), diffForm, diffOut),
    h('section', { class: 'panel' }, h('h3', {}, 'History ', live), list, more));

  let latest = 0;
  diffForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const a = Number(fromIn.value), b = Number(toIn.value);
    if (!(a >= 1 && b >= 1)) { replace(diffOut, errorBox('give two versions')); return; }
    replace(diffOut, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const base = '/v1/sessions/' + encodeURIComponent(id) + '/snapshots/';
      const [x, y] = await Promise.all([get(base + a, { signal: ctl.signal }), get(base + b, { signal: ctl.signal })]);
      const rows = changes(diff(x.data.state, y.data.state));
      const metaRows = changes(diff(x.data.metadata || {}, y.data.metadata || {}));
      replace(diffOut,
        h('p', {}, `v${a} → v${b}: ${rows.length} change${rows.length === 1 ? '' : 's'} in the state`),
        diffTable(rows, 'diff-table'),
        metaRows.length ? [h('p', {}, 'metadata:'), diffTable(metaRows, 'diff-meta-table')] : null);
    } catch (err) {
      if (!ctl.signal.aborted) replace(diffOut, errorBox(err));
    }
  });

  const showHead = (s) => {
    latest = Math.max(latest, s.version || 0);
    replace(head,
      kv([
        ['version', h('span', { id: 'session-version' }, num(s.version))],
        ['snapshots', num(s.snapshot_count)],
        ['created', time(s.created_at)],
        ['last active', time(s.last_active)],
        ['TTL', s.ttl_seconds ? duration(s.ttl_seconds) : 'none'],
        ['expires', s.expires_at ? time(s.expires_at) : 'never'],
      ]),
      h('div', { class: 'meta' }, h('span', { class: 'muted' }, 'metadata '), jsonTree(s.metadata || {}, 2)));
  };

  const setDiffDefaults = () => {
    if (!toIn.value || Number(toIn.value) < latest) toIn.value = String(latest);
    if (!fromIn.value) fromIn.value = String(Math.max(1, latest - 1));
  };

  let nextCursor = null;
  const loadPage = async () => {
    const u = new URLSearchParams({ limit: '20', include_state: 'true' });
    if (nextCursor) u.set('cursor', nextCursor);
    const { data } = await get('/v1/sessions/' + encodeURIComponent(id) + '/snapshots?' + u, { signal: ctl.signal });
    for (const s of data.snapshots || []) {
      if (!list.querySelector('#v' + s.version)) list.append(snapshotCard(s, false));
      latest = Math.max(latest, s.version);
    }
    nextCursor = data.next_cursor || null;
    replace(more, nextCursor ? h('button', { type: 'button', id: 'older', onclick: () => loadPage().catch((e) => more.append(errorBox(e))) }, 'Older versions') : h('span', { class: 'muted' }, list.children.length ? 'Start of the history.' : 'No snapshots yet.'));
  };

  (async () => {
    try {
      const { data: s } = await get('/v1/sessions/' + encodeURIComponent(id), { signal: ctl.signal });
      showHead(s);
      await loadPage();
      setDiffDefaults();
      // New snapshots from the event stream, after what the page shows.
      watch(id, latest, {
        signal: ctl.signal,
        onState: (t) => { live.textContent = t; live.className = 'badge ' + (t === 'live' ? 'healthy' : 'degraded'); },
        onEvent: (name, data) => {
          if (name === 'session' && data && typeof data === 'object') showHead(data);
          else if (name === 'snapshot' && data && typeof data === 'object') {
            if (list.querySelector('#v' + data.version)) return;
            list.prepend(snapshotCard(data, true));
            latest = Math.max(latest, data.version);
            const v = head.querySelector('#session-version');
            if (v) v.textContent = num(latest);
            setDiffDefaults();
          } else if (name === 'deleted') {
            head.prepend(errorBox('This session was deleted.'));
          }
        },
      });
    } catch (e) {
      if (ctl.signal.aborted) return;
      if (e instanceof ApiError && e.status === 404) replace(head, errorBox('No session ' + id + ' (deleted, expired, or never created).'));
      else replace(head, errorBox(e));
    }
  })();
  return () => ctl.abort();
}
