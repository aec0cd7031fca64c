// app.js: start-up, login and the pages (#/overview, #/sessions,
// #/session/<id>, #/operations).
import { get, token, setToken, onUnauthorized, ApiError } from './api.js';
import { h, replace, errorBox } from './view.js';
import * as overview from './overview.js';
import * as sessions from './sessions.js';
import * as ops from './ops.js';

const main = document.getElementById('main');
const logout = document.getElementById('logout');
let stopPage = () => {};
let loggedIn = false;

function showLogin(message) {
  loggedIn = false;
  stopPage();
  stopPage = () => {};
  overview.stopPolling();
  logout.hidden = true;
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, 'aria-label': 'admin token', placeholder: 'admin token' });
  const form = h('form', { id: 'login', class: 'panel login' },
    h('h1', {}, 'cortex console'),
    h('p', {}, 'This server needs a token. Give the admin token (--admin-token, or the API token when the server has only one). It is kept in this tab only (sessionStorage) and sent as an Authorization header.'),
    message ? errorBox(message) : null,
    input,
    h('button', { type: 'submit', class: 'primary', id: 'login-button' }, 'Log in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    await start();
  });
  replace(main, form);
  input.focus();
}

// start checks what the server asks for, then shows the page.
async function start() {
  let stats;
  try {
    stats = (await get('/v1/admin/stats')).data;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      const had = token() !== '';
      setToken('');
      showLogin(had ? 'That token was not accepted.' : null);
      return;
    }
    if (e instanceof ApiError && e.status === 403 && e.type === 'forbidden') {
      setToken('');
      showLogin('That is the API token: the console needs the admin token.');
      return;
    }
    replace(main, errorBox(e));
    return;
  }
  loggedIn = true;
  logout.hidden = token() === '';
  document.getElementById('engine').textContent = stats.engine === 'postgres' ? 'PostgreSQL ' + (stats.server_version || '') : 'SQLite ' + (stats.sqlite_version || '');
  overview.seed(stats);
  overview.startPolling();
  route();
}

function route() {
  if (!loggedIn) return;
  stopPage();
  stopPage = () => {};
  const hash = location.hash || '#/overview';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  const page = parts[0] || 'overview';
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === page || (page === 'session' && a.dataset.page === 'sessions'));
  }
  window.scrollTo(0, 0);
  switch (page) {
    case 'sessions':
      stopPage = sessions.renderList(main, params);
      break;
    case 'session':
      stopPage = sessions.renderSession(main, decodeURIComponent(parts.slice(1).join('/')));
      break;
    case 'operations':
      stopPage = ops.render(main);
      break;
    default:
      stopPage = overview.render(main);
  }
}

onUnauthorized(() => {
  if (loggedIn) {
    setToken('');
    showLogin('The server no longer accepts the token; log in again.');
  }
});
logout.addEventListener('click', () => {
  setToken('');
  showLogin(null);
});
window.addEventListener('hashchange', route);
start();
