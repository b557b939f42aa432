// The dashboard's shell: who is signed in, the header, the language switch and a hash router
// (#/board, #/ticket/<id>, #/reports, #/devices, #/channels) so the server only ever serves one page.

import * as api from './api.js';
import { h, fill } from './dom.js';
import { t, lang, setLang } from './i18n.js';
import { boardView } from './board.js';
import { ticketView } from './ticket.js';
import { reportsView } from './reports.js';
import { devicesView } from './devices.js';
import { channelsView } from './channels.js';
import { session } from './state.js';

const DESK_ROLES = ['dispatcher', 'supervisor', 'admin'];
const main = document.getElementById('main');
const top = document.getElementById('top');

let leave = () => {};

function header() {
  const role = session.user?.role;
  const nav = session.user && DESK_ROLES.includes(role)
    ? h('nav', { 'aria-label': t('app_title') },
      h('ul', {},
        h('li', {}, h('a', { href: '#/board' }, t('nav_board'))),
        h('li', {}, h('a', { href: '#/reports' }, t('nav_reports'))),
        ['supervisor', 'admin'].includes(role) ? h('li', {}, h('a', { href: '#/devices' }, t('nav_devices'))) : null,
        role === 'admin' ? h('li', {}, h('a', { href: '#/channels' }, t('nav_channels'))) : null))
    : null;
  const switchLang = h('button', {
    type: 'button', id: 'lang-switch', lang: lang() === 'en' ? 'zh-CN' : 'en', 'aria-label': t('lang_switch_label'),
    onclick: () => { setLang(lang() === 'en' ? 'zh-CN' : 'en'); route(); },
  }, t('lang_switch'));
  const who = session.user
    ? h('span', { class: 'who' }, `${t('signed_in_as')}: ${session.user.display_name || session.user.username}`)
    : null;
  const out = session.user
    ? h('button', { type: 'button', id: 'logout', onclick: signOut }, t('logout'))
    : null;
  fill(top, h('div', { class: 'brand' }, t('app_title')), nav, h('div', { class: 'tools' }, who, switchLang, out));
  markCurrent();
}

function markCurrent() {
  for (const a of top.querySelectorAll('nav a')) {
    if (location.hash.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function signOut() {
  await api.logout();
  session.user = null;
  location.hash = '#/login';
}

function loginView() {
  const error = h('p', { class: 'error', role: 'alert' });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'login card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, t('login_title')),
    h('label', { for: 'username' }, t('username')), user,
    h('label', { for: 'password' }, t('password')), pass,
    h('button', { type: 'submit' }, t('login')), error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    try {
      session.user = await api.login(user.value, pass.value);
      await loadNames();
      location.hash = '#/board';
    } catch (err) {
      error.textContent = err.status === 429 ? t('login_limited') : err.status === 401 ? t('login_failed') : err.message;
    }
  });
  fill(main, form);
  user.focus();
}

async function loadNames() {
  if (!DESK_ROLES.includes(session.user?.role)) return;
  const [areas, teams] = await Promise.all([api.get('/api/v1/areas'), api.get('/api/v1/teams')]);
  session.areas = new Map(areas.areas.map((a) => [a.id, a]));
  session.teams = new Map(teams.teams.map((x) => [x.id, x]));
  if (['supervisor', 'admin'].includes(session.user.role)) {
    const { users } = await api.get('/api/v1/users');
    session.users = new Map(users.map((u) => [u.id, u]));
  }
}

async function route() {
  const hash = location.hash || '#/board';
  if (!hash.startsWith('#/')) return; // the skip link's #main: stay on the view
  leave();
  leave = () => {};
  document.documentElement.lang = lang();
  document.title = t('app_title');
  document.getElementById('skip').textContent = t('skip');
  const [path, query] = hash.slice(2).split('?');
  const params = new URLSearchParams(query ?? '');
  header();
  if (!session.user || path === 'login') return loginView();
  if (!DESK_ROLES.includes(session.user.role)) {
    return fill(main, h('p', { class: 'error' }, t('role_not_allowed')), h('p', {}, h('a', { class: 'button', href: '/app/' }, t('open_field_app'))));
  }
  fill(main, h('p', {}, t('loading')));
  const [view, arg] = path.split('/');
  try {
    if (view === 'ticket' && arg) leave = await ticketView(main, decodeURIComponent(arg));
    else if (view === 'reports') leave = await reportsView(main, params);
    else if (view === 'devices') leave = await devicesView(main);
    else if (view === 'channels') leave = await channelsView(main);
    else leave = await boardView(main, params);
  } catch (err) {
    if (err.status === 401) return;
    fill(main, h('p', { class: 'error', role: 'alert' }, `${t('error')}: ${err.message}`));
  }
  // Move focus to the new view's heading so keyboard and screen-reader users land on it.
  main.querySelector('h1')?.setAttribute('tabindex', '-1');
  if (document.activeElement === document.body || !main.contains(document.activeElement)) {
    main.querySelector('h1')?.focus({ preventScroll: true });
  }
}

api.whenSignedOut(() => {
  session.user = null;
  if (location.hash !== '#/login') location.hash = '#/login';
  else route();
});

async function start() {
  setLang(lang());
  // Without the CSRF cookie there is no session to ask about (and no 401 to log).
  if (document.cookie.includes('fv_csrf=')) {
    try {
      session.user = await api.get('/api/v1/me');
      await loadNames();
    } catch {
      session.user = null;
    }
  }
  window.addEventListener('hashchange', route);
  await route();
}

start();
