// ops.js: the operations page. Each action is the existing admin API call;
// anything that writes asks for confirmation first.
import { get, post, ApiError } from './api.js';
import { h, replace, bytes, num, duration, badge, kv, errorBox, confirmAction, time } from './view.js';
import { latestStats } from './overview.js';

function panel(id, title, ...body) {
  return h('section', { class: 'panel', id }, h('h3', {}, title), ...body);
}

function notHere(text) {
  return h('p', { class: 'muted' }, text);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function render(main) {
  const ctl = new AbortController();
  const { stats } = latestStats();
  const pg = stats && stats.engine === 'postgres';
  const parts = [h('h1', {}, 'Operations')];

  if (pg) {
    parts.push(panel('op-pg', 'On PostgreSQL',
      notHere('Checkpoints, online file backups, integrity jobs and this EXPLAIN are SQLite\'s. PostgreSQL checkpoints itself; back it up with pg_dump or pg_basebackup; check it with data checksums and pg_amcheck; run EXPLAIN in psql. Retention below applies to both engines.')));
  } else {
    parts.push(checkpointPanel(ctl), backupPanel(ctl), integrityPanel(ctl), explainPanel(ctl));
  }
  parts.push(retentionPanel(ctl));
  replace(main, ...parts);
  return () => ctl.abort();
}

function checkpointPanel(ctl) {
  const mode = h('select', { id: 'cp-mode', 'aria-label': 'checkpoint mode' },
    ['passive', 'full', 'restart', 'truncate'].map((m) => h('option', { value: m }, m)));
  const out = h('div', { id: 'cp-result' });
  const btn = h('button', { type: 'button', id: 'cp-run', class: 'primary' }, 'Run checkpoint');
  btn.addEventListener('click', async () => {
    const m = mode.value;
    if (!await confirmAction(`Run a ${m.toUpperCase()} checkpoint now? It copies WAL frames into the database file${m === 'passive' ? '' : ' and may wait for readers and the writer'}.`)) return;
    btn.disabled = true;
    replace(out, h('p', { class: 'muted' }, 'Running…'));
    try {
      const { data: r } = await post('/v1/admin/checkpoint', { mode: m }, { signal: ctl.signal });
      replace(out, kv([
        ['mode', r.mode],
        ['busy', r.busy ? 'yes: a reader or the writer held a lock it needed' : 'no'],
        ['WAL frames', num(r.wal_frames)],
        ['checkpointed frames', num(r.checkpointed_frames)],
        ['remaining frames', num(r.remaining_frames)],
        ['WAL before → after', bytes(r.wal_bytes_before) + ' → ' + bytes(r.wal_bytes_after)],
        ['duration', r.duration_ms !== undefined ? num(r.duration_ms, 2) + ' ms' : '–'],
        ['at', time(r.at)],
      ]));
      out.setAttribute('data-done', 'true');
    } catch (e) {
      replace(out, errorBox(e));
    } finally {
      btn.disabled = false;
    }
  });
  return panel('op-checkpoint', 'Checkpoint',
    h('p', { class: 'muted' }, 'The server checkpoints in the background; run one by hand to shrink the WAL now (truncate) or to see what blocks it.'),
    h('div', { class: 'row' }, mode, btn), out);
}

function backupPanel(ctl) {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const name = h('input', { id: 'backup-name', type: 'text', value: 'cortex-' + stamp + '.db', 'aria-label': 'backup file name', pattern: '[A-Za-z0-9._-]+' });
  const out = h('div', { id: 'backup-result' });
  const btn = h('button', { type: 'button', id: 'backup-run', class: 'primary' }, 'Back up');
  btn.addEventListener('click', async () => {
    const n = name.value.trim();
    if (!await confirmAction(`Write an online backup named ${n} into the server's --backup-dir? Writes go on meanwhile.`)) return;
    btn.disabled = true;
    const bar = h('progress', { max: '1', value: '0', id: 'backup-progress' });
    const label = h('span', {}, 'starting…');
    replace(out, h('div', { class: 'row' }, bar, ' ', label));
    let done = false;
    // Progress: the running backup's pages, from health, while the POST runs.
    (async () => {
      while (!done && !ctl.signal.aborted) {
        await sleep(300);
        try {
          const { data } = await get('/v1/admin/health', { ok: [503], signal: ctl.signal });
          if (!done && data && data.backup && data.backup.pages_total) {
            bar.value = data.backup.pages_done / data.backup.pages_total;
            label.textContent = num(data.backup.pages_done) + ' of ' + num(data.backup.pages_total) + ' pages';
          }
        } catch { /* the result below says what went wrong */ }
      }
    })();
    try {
      const { data: r } = await post('/v1/admin/backup', { name: n }, { signal: ctl.signal });
      done = true;
      bar.value = 1;
      replace(out, kv([
        ['file', h('span', { class: 'mono', id: 'backup-path' }, r.path)],
        ['size', bytes(r.bytes) + ' (' + num(r.pages) + ' pages)'],
        ['integrity of the copy', (r.integrity || '–') + (r.check ? ' (' + r.check + ' check)' : '')],
        ['duration', num(r.duration_ms) + ' ms (copy ' + num(r.copy_ms) + ' ms, check ' + num(r.check_ms) + ' ms)'],
      ]));
    } catch (e) {
      done = true;
      replace(out, errorBox(e));
    } finally {
      btn.disabled = false;
    }
  });
  return panel('op-backup', 'Online backup',
    h('p', { class: 'muted' }, 'A consistent copy made while writes continue, checked, then renamed into place in --backup-dir; a name with a path in it is refused.'),
    h('div', { class: 'row' }, name, btn), out);
}

function integrityPanel(ctl) {
  const mode = h('select', { id: 'ic-mode', 'aria-label': 'integrity mode' },
    [['quick', 'quick (quick_check)'], ['full', 'full (integrity_check)'], ['verify', 'verify (paced, every row)']].map(([v, t]) => h('option', { value: v }, t)));
  const out = h('div', { id: 'ic-result' });
  const btn = h('button', { type: 'button', id: 'ic-run', class: 'primary' }, 'Start check');
  btn.addEventListener('click', async () => {
    const m = mode.value;
    if (m !== 'quick' && !await confirmAction(`Start a ${m} integrity check? It reads the whole database on a reader, in the background.`)) return;
    btn.disabled = true;
    try {
      const res = await post('/v1/admin/integrity', { mode: m }, { signal: ctl.signal });
      const url = res.headers.get('Location') || '/v1/admin/integrity/' + encodeURIComponent(res.data.id);
      let job = res.data;
      for (;;) {
        showJob(out, job);
        if (job.state !== 'running' || ctl.signal.aborted) break;
        await sleep(500);
        job = (await get(url, { signal: ctl.signal })).data;
      }
    } catch (e) {
      if (e instanceof ApiError && e.type === 'job-running') replace(out, errorBox('Another integrity job is running: ' + e.message));
      else if (!ctl.signal.aborted) replace(out, errorBox(e));
    } finally {
      btn.disabled = false;
    }
  });
  return panel('op-integrity', 'Integrity check',
    h('p', { class: 'muted' }, 'A background job, one at a time, never on the writer. Health reports the last completed check.'),
    h('div', { class: 'row' }, mode, btn), out);
}

function showJob(out, j) {
  const p = j.progress || {};
  const prog = [];
  if (p.phase) prog.push(p.phase);
  if (p.tables_total) prog.push(num(p.tables_done) + ' of ' + num(p.tables_total) + ' tables');
  if (p.rows) prog.push(num(p.rows) + ' rows, ' + bytes(p.bytes));
  const res = j.result;
  replace(out, kv([
    ['job', h('span', { class: 'mono' }, j.id)],
    ['state', h('span', { id: 'ic-state' }, badge(j.state))],
    ['mode', j.mode],
    ['progress', prog.join(', ') || '–'],
    ['elapsed', num(j.elapsed_ms) + ' ms'],
    res ? ['result', h('span', { id: 'ic-ok' }, res.ok ? 'ok' : 'PROBLEMS FOUND')] : null,
    res && res.problems && res.problems.length ? ['problems', h('ul', {}, res.problems.map((x) => h('li', { class: 'mono' }, x)))] : null,
    j.error ? ['error', j.error] : null,
  ]));
}

function explainPanel(ctl) {
  const sql = h('textarea', { id: 'explain-sql', rows: '3', 'aria-label': 'SQL statement', spellcheck: 'false' });
  sql.value = 'SELECT id FROM sessions ORDER BY last_active DESC LIMIT 10';
  const out = h('div', { id: 'explain-result' });
  const btn = h('button', { type: 'button', id: 'explain-run' }, 'Explain');
  btn.addEventListener('click', async () => {
    try {
      const { data } = await post('/v1/admin/explain', { sql: sql.value }, { signal: ctl.signal });
      const rows = Array.isArray(data) ? data : [];
      const depth = new Map([[0, -1]]);
      replace(out, h('pre', { class: 'plan', id: 'explain-plan' }, rows.map((r) => {
        const d = (depth.get(r.parent) ?? -1) + 1;
        depth.set(r.id, d);
        return '  '.repeat(d) + (/\bSCAN\b/.test(r.detail) && !/COVERING|USING/.test(r.detail) ? '⚠ ' : '') + r.detail + '\n';
      })));
    } catch (e) {
      replace(out, errorBox(e));
    }
  });
  return panel('op-explain', 'EXPLAIN QUERY PLAN',
    h('p', { class: 'muted' }, 'The plan of one read-only statement over sessions and state_snapshots (writes are refused). A full SCAN of a table is marked ⚠.'),
    sql, h('div', { class: 'row' }, btn), out);
}

function retentionPanel(ctl) {
  const out = h('div', { id: 'retention' }, h('p', { class: 'muted' }, 'Loading…'));
  (async () => {
    try {
      const { data: st } = await get('/v1/admin/stats', { signal: ctl.signal });
      const r = st.retention;
      if (!r) { replace(out, notHere('This server reports no retention settings.')); return; }
      const j = r.janitor || {};
      replace(out, kv([
        ['keep snapshots (--keep-snapshots)', r.keep_snapshots ? 'newest ' + num(r.keep_snapshots) + ' per session' : 'all'],
        ['snapshot max age (--snapshot-max-age)', r.snapshot_max_age_seconds ? duration(r.snapshot_max_age_seconds) : 'never'],
        ['default session TTL (--session-ttl)', r.session_ttl_seconds ? duration(r.session_ttl_seconds) : 'none'],
        ['janitor every (--janitor-interval)', duration(r.janitor_interval_seconds)],
        ['last pass', j.last_pass_at ? h('span', {}, time(j.last_pass_at), ' (' + j.last_pass_at + ')') : 'none yet'],
        ['passes', num(j.passes) + ' (' + num(j.batches) + ' write transactions)'],
        ['snapshots pruned', num(j.snapshots_pruned)],
        ['sessions expired', num(j.sessions_expired)],
        ['snapshots reclaimed (deleted/expired sessions)', num(j.snapshots_reclaimed)],
        ['writer time used', j.slices ? duration(j.writer_seconds) + ' in ' + num(j.slices) + ' slices (longest ' + duration(j.max_slice_seconds) + ')' : '–'],
        ['errors', num(j.errors) + (j.last_error ? ': ' + j.last_error : '')],
      ]));
    } catch (e) {
      if (!ctl.signal.aborted) replace(out, errorBox(e));
    }
  })();
  return panel('op-retention', 'Retention and the janitor', out);
}
