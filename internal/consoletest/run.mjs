// run.mjs drives the operations console in headless chromium for
// console_test.go: one browser for every target, and for each a desktop
// (1280x800) and a phone-sized (390x844) page, against a real cortex
// serve. It appends to the server itself (Node's fetch: another client) to
// see the page update live. It prints "ok" and exits 0 when every check
// passed; otherwise it prints what failed and exits 1.
//
// Environment: CONSOLE_TARGETS, a JSON list of {name, base
// (http://127.0.0.1:port), token (the admin token; empty: a token-less
// server), api_token (the API token, which the console must refuse),
// engine (sqlite or postgres), screenshots (a folder: save
// console-desktop.png and console-phone.png there)}; CHROMIUM (the
// browser's path).
import { chromium } from 'playwright-core';
import { join } from 'node:path';

const targets = JSON.parse(process.env.CONSOLE_TARGETS || '[]');
let base, adminToken, apiToken, engine, shots, origin, run, liveID, xssID, tname;
const T = 20000; // the longest wait for anything the page should show

const t0 = Date.now();
const log = (...a) => console.log('[console]', ((Date.now() - t0) / 1000).toFixed(1) + 's', tname, ...a);
function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg);
}

// api calls the server as a plain client (not the browser).
async function api(method, path, body, want) {
  const headers = { 'Content-Type': 'application/json' };
  if (adminToken) headers.Authorization = 'Bearer ' + adminToken;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (want && res.status !== want) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const XSS = '<img src=x onerror="console.error(\'xss ran\')">';
function target(t) {
  tname = t.name;
  base = t.base;
  adminToken = t.token || '';
  apiToken = t.api_token || '';
  engine = t.engine || 'sqlite';
  shots = t.screenshots || '';
  origin = new URL(base).origin;
  run = Date.now().toString(36);
  liveID = 'live-' + run;
  xssID = 'xss-' + run;
}

async function seed() {
  await api('POST', '/v1/sessions', { id: liveID, metadata: { team: 'console-' + run, owner: 'ada' }, ttl_seconds: 86400 }, 201);
  await api('POST', `/v1/sessions/${liveID}/snapshots`, { state: { step: 1, name: 'first', items: [{ id: 'a', n: 1 }, { id: 'b', n: 2 }] }, metadata: { source: 'seed' } }, 201);
  await api('POST', '/v1/sessions', { id: xssID, metadata: { note: XSS, title: '<script>console.error("xss")</script>' } }, 201);
  await api('POST', `/v1/sessions/${xssID}/snapshots`, { state: { html: XSS, nested: { deeper: ['<b>bold?</b>', XSS] } }, metadata: { x: XSS } }, 201);
  for (let i = 0; i < 3; i++) await api('POST', '/v1/sessions', { metadata: { team: 'other', n: i } }, 201);
}

// launch() gives the browser a fresh, empty profile of its own (a new
// --user-data-dir that it removes at close).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const problems = [];
let allowLogin = false;
let loggingIn = false; // before login, calls go without the admin token
let streams = 0; // event-stream requests seen

async function newPage(name, viewport) {
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1, serviceWorkers: 'block' });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const text = m.text();
    // The login probe: a token-protected server answers 401 before the
    // operator logs in, and chromium logs every non-2xx fetch.
    // (and 403 for the API token the test tries first).
    if (allowLogin && /status of 40[13]/.test(text)) return;
    problems.push(`${tname} ${name}: console ${m.type()}: ${text}`);
  });
  page.on('pageerror', (e) => problems.push(`${tname} ${name}: page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:')) return;
    if (new URL(u).origin !== origin) problems.push(`${tname} ${name}: request to another origin: ${u}`);
    if (adminToken && u.includes(adminToken)) problems.push(`${tname} ${name}: the token is in a URL: ${u}`);
    if (new URL(u).pathname.startsWith('/v1/')) {
      // Every API call is a fetch with the token as a bearer header; the
      // event stream too (EventSource could not send it).
      const auth = r.headers()['authorization'] || '';
      if (r.resourceType() !== 'fetch') problems.push(`${tname} ${name}: ${u} requested as ${r.resourceType()}, not fetch`);
      if (adminToken && auth !== 'Bearer ' + adminToken && !loggingIn) problems.push(`${tname} ${name}: ${u} without the bearer token`);
      if (u.includes('/events')) streams++;
    }
  });
  page.on('requestfailed', (r) => {
    const f = r.failure();
    // Streams and polls cut short by a page change are aborted on purpose.
    if (f && /ERR_ABORTED/.test(f.errorText)) return;
    problems.push(`${tname} ${name}: request failed: ${r.url()} ${f && f.errorText}`);
  });
  return { ctx, page };
}

// login opens the console, logs in when the server has a token, and waits
// for the overview.
async function open(page, { tryAPIToken = false } = {}) {
  allowLogin = !!adminToken;
  loggingIn = true;
  await page.goto(base + '/ui/');
  if (adminToken) {
    await page.waitForSelector('#login', { timeout: T });
    check(await page.locator('#overview-cards').count() === 0, 'the overview shows before login');
    if (tryAPIToken && apiToken) {
      await page.fill('#token', apiToken);
      await page.click('#login-button');
      await page.waitForSelector('#login .error', { timeout: T });
      check(/admin token/.test(await page.locator('#login .error').innerText()), 'the API token is refused with a word about the admin token');
    }
    await page.fill('#token', adminToken);
    await page.click('#login-button');
  }
  await page.waitForSelector('#health-status .badge', { timeout: T });
  allowLogin = false;
  loggingIn = false;
  check(await page.locator('#logout').isVisible() === !!adminToken, 'Log out shows exactly when there is a token');
  if (adminToken) {
    const stored = await page.evaluate(() => ({ s: JSON.stringify(sessionStorage), l: localStorage.length, c: document.cookie }));
    check(stored.s.includes(adminToken), 'the token is kept in sessionStorage');
    check(stored.l === 0 && stored.c === '', 'nothing in localStorage or cookies');
  }
}

// waitFor polls fn in the page until it answers true. (Playwright's
// waitForFunction evaluates a string in the page, which the console's CSP
// rightly refuses; page.evaluate goes through the debugger protocol.)
async function waitFor(page, fn, arg, what) {
  const end = Date.now() + T;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function noMarkupFromStore(page, where) {
  const found = await page.evaluate(() => ({
    img: document.querySelectorAll('main img').length,
    script: document.querySelectorAll('main script').length,
    bold: [...document.querySelectorAll('main b')].filter((e) => e.textContent === 'bold?').length,
  }));
  check(found.img === 0 && found.script === 0 && found.bold === 0, `${where}: stored markup became elements: ${JSON.stringify(found)}`);
}

async function desktop() {
  const { ctx, page } = await newPage('desktop', { width: 1280, height: 800 });
  await open(page, { tryAPIToken: true });
  const status = await page.locator('#health-status').innerText();
  check(/healthy|degraded/.test(status), 'health status shown: ' + status);
  await waitFor(page, () => document.querySelectorAll('#overview-charts .uplot').length >= 2, null, 'the charts');
  log('overview loaded:', status.trim());

  // Sessions: the list, search, and the XSS payload as text.
  await page.goto(base + '/ui/#/sessions');
  await page.waitForSelector('#sessions-table', { timeout: T });
  let table = await page.locator('#sessions-table').innerText();
  check(table.includes(liveID) && table.includes(xssID), 'both sessions listed');
  check(table.includes('<img src=x onerror='), 'the XSS metadata is shown as text in the list');
  await noMarkupFromStore(page, 'session list');
  await page.fill('#search', 'team=console-' + run);
  await page.press('#search', 'Enter');
  await waitFor(page, (id) => {
    const t = document.querySelector('#sessions-table');
    return t && t.querySelectorAll('tbody tr').length === 1 && t.innerText.includes(id);
  }, liveID, 'the search result');
  log('sessions: list and search ok');

  if (engine === 'postgres') {
    await page.goto(base + '/ui/#/operations');
    await page.waitForSelector('#op-pg', { timeout: T });
    await page.waitForSelector('#retention dl', { timeout: T });
  }

  // A session's page: the history, a live append, a diff.
  await page.goto(base + '/ui/#/session/' + liveID);
  await page.waitForSelector('#v1', { timeout: T });
  await waitFor(page, () => document.querySelector('#live')?.textContent === 'live', null, 'the live stream');
  await api('POST', `/v1/sessions/${liveID}/snapshots`, { state: { step: 2, name: 'second', added: true, items: [{ id: 'a', n: 1 }, { id: 'b', n: 3 }] }, metadata: { source: 'test' } }, 201);
  await page.waitForSelector('#v2', { timeout: T });
  check(streams > 0, 'the page read the event stream');
  check((await page.locator('#session-version').innerText()).trim() === '2', 'the version in the head follows the stream');
  log('live: v2 appeared');
  await page.fill('#diff-from', '1');
  await page.fill('#diff-to', '2');
  await page.click('#diff-run');
  await page.waitForSelector('#diff-table', { timeout: T });
  const d = await page.locator('#diff-table').innerText();
  check(d.includes('$.name') && d.includes('"first"') && d.includes('"second"'), 'the diff shows the changed key: ' + d);
  check(d.includes('$.added') && d.includes('$.items[1].n'), 'the diff shows the added key and the array change: ' + d);
  log('diff ok');

  // The XSS session's page: state and metadata as text.
  await page.goto(base + '/ui/#/session/' + xssID);
  await page.waitForSelector('#v1', { timeout: T });
  const text = await page.locator('main').innerText();
  check(text.includes('<img src=x onerror='), 'the XSS state is shown as text');
  check(text.includes('<script>console.error'), 'the XSS metadata is shown as text');
  await noMarkupFromStore(page, 'session page');
  log('xss stays text');

  if (engine !== 'postgres') {
    await page.goto(base + '/ui/#/operations');
    await page.waitForSelector('#op-checkpoint', { timeout: T });
    // A write asks first: cancel does nothing.
    await page.selectOption('#cp-mode', 'truncate');
    await page.click('#cp-run');
    await page.click('#confirm-cancel');
    check(await page.locator('#cp-result').innerText() === '', 'a cancelled checkpoint ran');
    await page.click('#cp-run');
    await page.click('#confirm-ok');
    await page.waitForSelector('#cp-result[data-done]', { timeout: T });
    const cp = await page.locator('#cp-result').innerText();
    check(/truncate/.test(cp) && /checkpointed frames/.test(cp), 'the checkpoint result: ' + cp);
    log('checkpoint ok');

    await page.click('#backup-run');
    await page.click('#confirm-ok');
    await page.waitForSelector('#backup-path', { timeout: T });
    const bk = await page.locator('#backup-result').innerText();
    check(/\.db/.test(bk) && /ok/.test(bk), 'the backup result: ' + bk);
    log('backup ok');

    await page.selectOption('#ic-mode', 'quick');
    await page.click('#ic-run');
    await waitFor(page, () => /done|failed/.test(document.querySelector('#ic-state')?.textContent || ''), null, 'the integrity job to end');
    check((await page.locator('#ic-ok').innerText()) === 'ok', 'the integrity job found the database ok');
    log('integrity ok');

    await page.click('#explain-run');
    await page.waitForSelector('#explain-plan', { timeout: T });
    check(/sessions/i.test(await page.locator('#explain-plan').innerText()), 'explain shows a plan');
    await page.waitForSelector('#retention dl', { timeout: T });
    log('operations ok');
  }

  if (shots) {
    // A little traffic, so that the charts have a line to show.
    await page.goto(base + '/ui/#/overview');
    for (let i = 3; i <= 12; i++) {
      await api('POST', `/v1/sessions/${liveID}/snapshots`, { state: { step: i } }, 201);
      await api('GET', `/v1/sessions/${liveID}/snapshots/latest`);
      await page.waitForTimeout(700);
    }
    await page.screenshot({ path: join(shots, 'console-desktop.png') });
    log('screenshot saved');
  }
  await ctx.close();
}

async function phone() {
  const { ctx, page } = await newPage('phone', { width: 390, height: 844 });
  await open(page);
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
  check(await fits(), 'the overview fits a phone-sized screen without scrolling sideways');
  await page.goto(base + '/ui/#/session/' + liveID);
  await page.waitForSelector('#v1', { timeout: T });
  check(await fits(), 'a session page fits a phone-sized screen');
  await page.click('nav a[data-page="operations"]');
  await page.waitForSelector('#op-retention', { timeout: T });
  check(await fits(), 'the operations page fits a phone-sized screen');
  if (shots) {
    await page.goto(base + '/ui/#/overview');
    await waitFor(page, () => document.querySelectorAll('#overview-charts .uplot').length >= 2, null, 'the charts');
    await page.mouse.move(200, 600); // no hover on the navigation
    await page.waitForTimeout(2500);
    await page.screenshot({ path: join(shots, 'console-phone.png') });
  }
  log('phone ok');
  await ctx.close();
}

let code = 0;
try {
  check(targets.length > 0, 'CONSOLE_TARGETS names no server');
  for (const t of targets) {
    target(t);
    // The console's own headers.
    const res = await fetch(base + '/ui/');
    const csp = res.headers.get('content-security-policy') || '';
    check(/default-src 'self'/.test(csp) && /frame-ancestors 'none'/.test(csp) && !/unsafe-inline|unsafe-eval/.test(csp), 'CSP: ' + csp);
    check(res.headers.get('x-frame-options') === 'DENY', 'X-Frame-Options DENY');
    await seed();
    await desktop();
    await phone();
  }
  if (problems.length) throw new Error('the browser reported:\n  ' + problems.join('\n  '));
  console.log('ok');
} catch (e) {
  console.log('FAIL', e && e.stack ? e.stack : e);
  if (problems.length) console.log('browser problems:\n  ' + problems.join('\n  '));
  code = 1;
} finally {
  await browser.close().catch(() => {});
}
process.exit(code);
