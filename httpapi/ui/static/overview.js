// overview.js: the live overview. A poller reads /v1/admin/stats and
// /v1/admin/health every 2 s, keeps the last 15 minutes of figures in the
// page (across page changes) and draws them with uPlot.
import { get } from './api.js';
import { h, replace, bytes, num, duration, ago, badge, kv, errorBox, time } from './view.js';

const POLL_MS = 2000;
const WINDOW_S = 15 * 60;

// samples: one per poll, oldest first, within the window.
const samples = [];
let latest = { stats: null, health: null, error: null, at: 0 };
let timer = null;
const listeners = new Set();

export function latestStats() { return latest; }

// seed sets the figures a page can use before the first poll.
export function seed(stats) {
  if (!latest.stats) latest = { ...latest, stats };
}

export function startPolling() {
  if (timer) return;
  const tick = async () => {
    try {
      const [st, he] = await Promise.all([
        get('/v1/admin/stats'),
        get('/v1/admin/health', { ok: [503] }),
      ]);
      latest = { stats: st.data, health: he.data, error: null, at: Date.now() };
      record(st.data);
    } catch (e) {
      latest = { ...latest, error: e, at: Date.now() };
    }
    for (const fn of listeners) fn();
    timer = setTimeout(tick, POLL_MS);
  };
  timer = setTimeout(tick, 0);
}

export function stopPolling() {
  clearTimeout(timer);
  timer = null;
  samples.length = 0;
}

// quantile reads the q-quantile out of the difference of two cumulative
// histograms (Prometheus' histogram_quantile: linear within a bucket).
function quantile(q, bounds, now, before) {
  if (!now || !before) return null;
  const c = now.map((v, i) => v - (before[i] || 0));
  const total = Math.max(0, ...c); // cumulative: the last bound's count
  if (!total) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (c[i] >= rank) {
      const lo = i === 0 ? 0 : bounds[i - 1];
      const prev = i === 0 ? 0 : c[i - 1];
      const inBucket = c[i] - prev;
      return inBucket > 0 ? lo + (bounds[i] - lo) * ((rank - prev) / inBucket) : bounds[i];
    }
  }
  return bounds[bounds.length - 1];
}

function record(st) {
  const t = Date.now() / 1000;
  const s = { t, st };
  const prev = samples[samples.length - 1];
  const back = samples[Math.max(0, samples.length - 5)]; // ~10 s back, for quantiles
  const http = st.http || {};
  const w = st.writer || {};
  if (prev) {
    const dt = t - prev.t;
    const ph = prev.st.http || {};
    const pw = prev.st.writer || {};
    s.appends = http.appends !== undefined && ph.appends !== undefined ? Math.max(0, (http.appends - ph.appends) / dt) : null;
    s.reads = http.reads !== undefined && ph.reads !== undefined ? Math.max(0, (http.reads - ph.reads) / dt) : null;
    const dc = (w.commits || 0) - (pw.commits || 0);
    s.batch = dc > 0 ? ((w.writes || 0) - (pw.writes || 0)) / dc : null;
  }
  if (back && st.commit_seconds_histogram && back.st.commit_seconds_histogram) {
    const b = st.commit_seconds_histogram.bounds;
    const p50 = quantile(0.5, b, st.commit_seconds_histogram.counts, back.st.commit_seconds_histogram.counts);
    const p99 = quantile(0.99, b, st.commit_seconds_histogram.counts, back.st.commit_seconds_histogram.counts);
    s.p50 = p50 === null ? null : p50 * 1000;
    s.p99 = p99 === null ? null : p99 * 1000;
  }
  s.wal = st.wal_bytes !== undefined ? st.wal_bytes / 1048576 : null;
  s.walLimit = st.wal_limit_bytes ? st.wal_limit_bytes / 1048576 : null;
  if (st.readers) { s.inUse = st.readers.in_use; s.poolSize = st.readers.size; }
  else if (st.pool) { s.inUse = st.pool.acquired_conns; s.poolSize = st.pool.max_conns; }
  s.inflight = http.inflight_bytes !== undefined ? http.inflight_bytes / 1048576 : null;
  s.watchers = http.watchers ?? null;
  s.lag = st.replication ? st.replication.lag_seconds : null;
  samples.push(s);
  while (samples.length && samples[0].t < t - WINDOW_S) samples.shift();
}

function col(key) { return samples.map((s) => (s[key] === undefined ? null : s[key])); }

// Chart definitions: which apply depends on the engine.
function chartDefs(st) {
  const sqlite = !st || st.engine !== 'postgres';
  const defs = [
    { id: 'rate', title: 'Appends and reads per second', series: [['appends/s', 'appends', '#2f7ed8'], ['reads/s', 'reads', '#8bbc21']] },
  ];
  if (sqlite) {
    defs.push({ id: 'latency', title: 'Commit latency (ms, last 10 s)', series: [['p50', 'p50', '#2f7ed8'], ['p99', 'p99', '#d9534f']] });
    defs.push({ id: 'batch', title: 'Writes per commit (group size)', series: [['mean batch', 'batch', '#910000']] });
    defs.push({ id: 'wal', title: 'WAL size (MiB) against --wal-limit', series: [['WAL', 'wal', '#1aadce'], ['limit', 'walLimit', '#999999']] });
  }
  defs.push({ id: 'pool', title: sqlite ? 'Reader pool in use' : 'Connection pool in use', series: [['in use', 'inUse', '#492970'], ['size', 'poolSize', '#999999']] });
  defs.push({ id: 'inflight', title: 'Bytes in flight (MiB)', series: [['in flight', 'inflight', '#f28f43']] });
  if (st && st.replication) defs.push({ id: 'lag', title: 'Replication lag (s)', series: [['lag', 'lag', '#77a1e5']] });
  return defs;
}

let charts = [];

function makeChart(def, container) {
  const width = Math.max(260, container.clientWidth - 4);
  const opts = {
    width,
    height: 150,
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), Math.max(1, (max ?? 1) * 1.1)] } },
    axes: [{ stroke: '#667', grid: { stroke: '#eee' } }, { stroke: '#667', grid: { stroke: '#eee' }, size: 50 }],
    series: [{}].concat(def.series.map(([label, , color]) => ({ label, stroke: color, width: 1.5, spanGaps: false }))),
  };
  const data = [col('t')].concat(def.series.map(([, key]) => col(key)));
  const u = new window.uPlot(opts, data, container);
  return { def, u, container };
}

function redrawCharts() {
  for (const c of charts) {
    c.u.setData([col('t')].concat(c.def.series.map(([, key]) => col(key))));
  }
}

function resizeCharts() {
  for (const c of charts) c.u.setSize({ width: Math.max(260, c.container.clientWidth - 4), height: 150 });
}

// render draws the page into main and keeps it current until the page
// changes (the returned function stops it).
export function render(main) {
  const cards = h('div', { class: 'cards', id: 'overview-cards' });
  const more = h('div', { class: 'cards', id: 'overview-more' });
  const chartBox = h('div', { class: 'charts', id: 'overview-charts' });
  replace(main, h('h1', {}, 'Overview'), h('p', { class: 'muted' }, 'Live: read every 2 s from /v1/admin/stats and /v1/admin/health; the charts keep the last 15 minutes while this tab is open.'), cards, chartBox, more);
  let engineKey = null;
  const update = () => {
    const { stats, health, error } = latest;
    const key = stats ? (stats.engine || 'sqlite') + (stats.replication ? '+r' : '') : null;
    if (key && key !== engineKey) {
      engineKey = key;
      for (const c of charts) c.u.destroy();
      chartBox.replaceChildren();
      charts = chartDefs(stats).map((def) => {
        const box = h('div', { class: 'chart' });
        chartBox.append(h('section', { class: 'panel', id: 'chart-' + def.id }, h('h3', {}, def.title), box));
        return makeChart(def, box);
      });
    } else {
      redrawCharts();
    }
    renderCards(cards, more, stats, health, error);
  };
  listeners.add(update);
  if (latest.stats || latest.error) update();
  const onResize = () => resizeCharts();
  window.addEventListener('resize', onResize);
  return () => {
    listeners.delete(update);
    window.removeEventListener('resize', onResize);
    for (const c of charts) c.u.destroy();
    charts = [];
  };
}

function card(title, body, cls = '') {
  return h('section', { class: 'panel card ' + cls }, h('h3', {}, title), body);
}

function renderCards(cards, more, st, he, error) {
  const out = [];
  let top = 0; // the first cards (health, traffic, writer) go above the charts
  if (error) out.push(errorBox(error));
  if (he) {
    out.push(card('Health', h('div', {},
      h('p', { id: 'health-status' }, badge(he.status)),
      h('ul', { class: 'checks' }, (he.checks || []).map((c) => h('li', {},
        badge(c.status), ' ', h('b', {}, c.name), c.detail ? ' — ' + c.detail : '', c.hint ? h('div', { class: 'hint' }, c.hint) : null))),
      he.integrity ? h('p', {}, 'Last integrity check: ', he.integrity.mode, ' ', he.integrity.ok ? 'ok' : 'FAILED', ', ', ago(he.integrity.checked_at)) : h('p', { class: 'muted' }, 'No integrity check since start.'),
      he.integrity_job ? h('p', {}, 'Integrity job running: ', he.integrity_job.mode, ' ', he.integrity_job.progress ? he.integrity_job.progress.phase : '') : null,
      he.backup ? h('p', {}, 'Backup running: ', num(he.backup.pages_done), ' of ', num(he.backup.pages_total), ' pages') : null,
      he.reserve ? h('p', {}, 'Disk reserve: ', he.reserve) : null,
    ), 'wide'));
  }
  top = out.length;
  if (st) {
    const last = samples[samples.length - 1] || {};
    const http = st.http || {};
    out.push(card('Traffic', kv([
      ['appends/s', num(last.appends, 1)],
      ['reads/s', num(last.reads, 1)],
      ['appends since start', num(http.appends)],
      ['event streams', http.watchers !== undefined ? num(http.watchers) + ' of ' + num(http.max_watchers) : '–'],
      ['bytes in flight', http.inflight_limit_bytes ? bytes(http.inflight_bytes) + ' of ' + bytes(http.inflight_limit_bytes) : bytes(http.inflight_bytes)],
    ])));
    top = out.length + 1; // and the engine's first card
    if (st.engine === 'postgres') {
      const p = st.pool || {};
      out.push(card('PostgreSQL', kv([
        ['server', st.server_version],
        ['database size', bytes(st.size_bytes)],
        ['sessions (estimate)', num(st.sessions_estimate)],
        ['snapshots (estimate)', num(st.snapshots_estimate)],
        ['pool', num(p.acquired_conns) + ' in use, ' + num(p.idle_conns) + ' idle, ' + num(p.max_conns) + ' max'],
        ['pool waits', num(p.empty_acquires) + ' (' + num(p.wait_ms) + ' ms)'],
      ])));
      out.push(card('Not on PostgreSQL', h('p', { class: 'muted' }, 'WAL, checkpoints, the writer\'s group commit, backups and integrity jobs are SQLite\'s; PostgreSQL runs its own (pg_stat_*, pg_dump, data checksums).')));
    } else {
      const w = st.writer || {};
      const cp = st.checkpoint || {};
      const r = st.readers || {};
      out.push(card('Writer', kv([
        ['commit p50 / p99', last.p50 != null ? num(last.p50, 2) + ' / ' + num(last.p99, 2) + ' ms' : '– (no commits in the last 10 s)'],
        ['writes per commit', last.batch != null ? num(last.batch, 1) : num(w.mean_batch, 1) + ' (since start)'],
        ['queue', num(w.queue_depth) + ' of ' + num(w.queue_cap)],
        ['commits / writes', num(w.commits) + ' / ' + num(w.writes)],
        ['failed / refused / retries', num(w.failed) + ' / ' + num(w.refused) + ' / ' + num(w.retries)],
        ['last commit', w.last_commit_at ? time(w.last_commit_at) : '–'],
      ])));
      const walPct = st.wal_limit_bytes ? (100 * st.wal_bytes / st.wal_limit_bytes) : 0;
      out.push(card('WAL and checkpoints', h('div', {},
        kv([
          ['WAL', bytes(st.wal_bytes) + ' of ' + bytes(st.wal_limit_bytes) + ' (' + num(walPct, 1) + '%)'],
          ['pending frames', num(st.wal_pending_frames)],
          ['checkpoints', num(cp.count) + ' (' + num(cp.incomplete) + ' incomplete, ' + num(cp.starved) + ' starved in a row)'],
          cp.last ? ['last', cp.last.mode + ', ' + (cp.last.busy ? 'busy' : 'not busy') + ', ' + num(cp.last.checkpointed_frames) + ' of ' + num(cp.last.wal_frames) + ' frames, ' + duration((cp.last.duration_ns || 0) / 1e9) + ', ' + ago(cp.last.at)] : ['last', 'none yet'],
        ]),
        h('div', { class: 'bar' }, h('div', { class: 'fill' + (walPct > 80 ? ' warn' : ''), style: null })),
      )));
      out.push(card('Readers', kv([
        ['pool', num(r.in_use) + ' in use of ' + num(r.size)],
        ['acquires', num(r.acquires)],
        ['waits', num(r.waits) + ' (' + num(r.wait_ms) + ' ms)'],
        ['timeouts', num(r.timeouts)],
      ])));
      const d = st.disk;
      out.push(card('Storage', kv([
        ['database', bytes(st.size_bytes) + ' (' + num(st.page_count) + ' pages of ' + bytes(st.page_size) + ')'],
        ['sessions', st.sessions !== undefined ? num(st.sessions) : '–'],
        ['disk free', d ? bytes(d.free_bytes) : '–'],
        ['disk reserve', d ? (d.reserve_bytes ? bytes(d.reserve_bytes) + (d.reserve_in_use ? ' (in use: disk was full)' : ' (in place)') : 'none') : '–'],
        ['SQLite', st.sqlite_version + ', ' + st.journal_mode + ', synchronous=' + st.synchronous],
      ])));
      if (st.replication) {
        const rp = st.replication;
        out.push(card('Replication', kv([
          ['mode', rp.mode],
          ['lag', duration(rp.lag_seconds)],
          ['stalled', rp.stalled ? 'yes: ' + (rp.stall_reason || '') : 'no'],
          ['txid', num(rp.txid)],
          ['cortex checkpointing', rp.cortex_checkpointing ? 'yes (took over)' : 'no'],
        ])));
      }
    }
    if (st.retention) {
      const j = st.retention.janitor || {};
      out.push(card('Janitor', kv([
        ['last pass', j.last_pass_at ? time(j.last_pass_at) : 'none yet'],
        ['passes', num(j.passes)],
        ['removed', num(j.snapshots_pruned) + ' snapshots pruned, ' + num(j.sessions_expired) + ' sessions expired, ' + num(j.snapshots_reclaimed) + ' reclaimed'],
        ['errors', num(j.errors) + (j.last_error ? ': ' + j.last_error : '')],
      ])));
    }
    // The WAL bar's width: set through the CSSOM (no inline style attribute).
  }
  replace(cards, out.slice(0, top));
  replace(more, out.slice(top));
  const fill = more.querySelector('.bar .fill');
  if (fill && st && st.wal_limit_bytes) fill.style.width = Math.min(100, 100 * st.wal_bytes / st.wal_limit_bytes) + '%';
}
