// api.js: the console's only way to the server. Every call is a same-origin
// fetch of the /v1 API with the token as a bearer header (never in a URL);
// the token lives in this tab's sessionStorage and nowhere else.

const TOKEN_KEY = 'cortex.console.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// ApiError is a refused or failed call: status and the problem document.
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && typeof problem === 'object' ? (problem.detail || problem.title) : String(problem || '');
    super(`${status}: ${detail || 'request failed'}`);
    this.status = status;
    this.problem = problem && typeof problem === 'object' ? problem : null;
  }
  get type() {
    return this.problem && typeof this.problem.type === 'string' ? this.problem.type.replace('urn:cortex:problem:', '') : '';
  }
}

let unauthorized = () => {};
// onUnauthorized sets what happens when the server answers 401.
export function onUnauthorized(fn) { unauthorized = fn; }

function headers(extra) {
  const h = { Accept: 'application/json', ...extra };
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

// call sends one request; statuses in ok (besides 2xx) answer normally.
export async function call(method, path, body, { ok = [], signal } = {}) {
  const init = {
    method,
    headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
    signal,
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok && !ok.includes(res.status)) {
    const err = new ApiError(res.status, data);
    if (res.status === 401) unauthorized(err);
    throw err;
  }
  return { status: res.status, data, headers: res.headers };
}

export const get = (path, opts) => call('GET', path, undefined, opts);
export const post = (path, body, opts) => call('POST', path, body, opts);

// watch follows a session's event stream (GET /v1/sessions/{id}/events)
// with fetch and a stream reader, since EventSource cannot send an
// Authorization header. It reconnects by itself with Last-Event-ID, so
// nothing is missed or seen twice, until signal aborts or the session is
// deleted. onEvent(name, data, id) gets each event; onState(text) the
// connection's state.
export async function watch(sessionID, afterVersion, { signal, onEvent, onState }) {
  let last = afterVersion > 0 ? String(afterVersion) : '';
  const path = '/v1/sessions/' + encodeURIComponent(sessionID) + '/events?include_state=true';
  while (!signal.aborted) {
    let ended = false;
    try {
      const h = headers({ Accept: 'text/event-stream' });
      if (last !== '') h['Last-Event-ID'] = last;
      const res = await fetch(path, { headers: h, cache: 'no-store', credentials: 'omit', signal });
      if (res.status !== 200) {
        let problem = null;
        try { problem = await res.json(); } catch { /* not JSON */ }
        const err = new ApiError(res.status, problem);
        if (res.status === 401) unauthorized(err);
        onState('stopped: ' + err.message);
        if (res.status !== 503) return;
      } else {
        onState('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let name = 'message', id = '', data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const field = c < 0 ? line : line.slice(0, c);
              let v = c < 0 ? '' : line.slice(c + 1);
              if (v.startsWith(' ')) v = v.slice(1);
              if (field === 'event') name = v;
              else if (field === 'id') id = v;
              else if (field === 'data') data += (data ? '\n' : '') + v;
            }
            if (id !== '') last = id;
            if (!data && name === 'message') continue;
            let parsed = null;
            try { parsed = JSON.parse(data); } catch { parsed = data; }
            onEvent(name, parsed, id);
            if (name === 'deleted') { ended = true; onState('session deleted'); return; }
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    if (ended || signal.aborted) return;
    onState('reconnecting');
    await new Promise((r) => setTimeout(r, 1000));
  }
}
