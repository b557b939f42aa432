// The field app's shell: login, the always-visible sync status, the language switch and a hash
// router (#/ households or my tickets, #/h/<id>, #/visit/<household>, #/report/<household>, #/new,
// #/mine), all drawn from IndexedDB so every screen works offline.

import * as api from './api.js';
import { h, fill } from '../../ui/js/dom.js';
import { t, lang, setLang, fmtTime } from './i18n.js';
import { all } from './store.js';
import { syncNow, startSyncing, changes, outboxCounts, statusFacts, forgetLocalData } from './sync.js';
import { householdsView, householdView, visitForm, ticketForm, newHouseholdForm, mineView } from './volunteer.js';
import { handlerView } from './handler.js';
import { attentionPanel } from './attention.js';

const FIELD_ROLES = ['volunteer', 'handler'];
const top = document.getElementById('top');
const statusEl = document.getElementById('status');
const main = document.getElementById('main');

let message = '';
/** A one-line note under the status (e.g. "saved"), shown until the next screen change. */
export function flash(text) {
  message = text;
  renderStatus();
}

function header() {
  const user = api.session?.user;
  const tabs = !user ? [] : user.role === 'handler'
    ? [['#/', t('nav_tickets')]]
    : [['#/', t('nav_households')], ['#/mine', t('nav_mine')], ['#/new', t('nav_new')]];
  fill(top,
    h('div', { class: 'bar' },
      h('span', { class: 'brand' }, t('app_title')),
      user ? h('span', { class: 'who' }, user.display_name || user.username) : null,
      h('button', {
        type: 'button', class: 'quiet', lang: lang() === 'en' ? 'zh-CN' : 'en', 'aria-label': t('lang_switch_label'),
        onclick: () => { setLang(lang() === 'en' ? 'zh-CN' : 'en'); route(); },
      }, t('lang_switch')),
      user ? h('button', { type: 'button', class: 'quiet', onclick: signOut }, t('logout')) : null),
    tabs.length ? h('nav', { 'aria-label': t('app_title') }, tabs.map(([href, label]) => h('a', {
      href, 'aria-current': current(href) ? 'page' : null,
    }, label))) : null);
}

const current = (href) => (href === '#/' ? ['', '#', '#/'].includes(location.hash) : location.hash.startsWith(href));

async function signOut() {
  const { waiting, rejected } = await outboxCounts();
  if (waiting + rejected > 0) return flash(t('logout_blocked'));
  await api.logout();
  await forgetLocalData();
  route();
}

let syncing = false;
let manualSyncs = 0; // finished taps on 立即同步, for tests to wait on (data-syncs)
async function renderStatus() {
  if (!api.session) {
    fill(statusEl, message ? h('span', {}, message) : null);
    return;
  }
  const [{ waiting, rejected }, last, pushOffset, serverOffset, policy] = await statusFacts(['last_sync', 'clock_offset_ms', 'server_clock_offset_ms', 'policy']);
  const offset = Number.isFinite(pushOffset) ? pushOffset : serverOffset;
  const tolerance = (policy?.clock_tolerance_s ?? 120) * 1000;
  statusEl.dataset.pending = String(waiting);
  statusEl.dataset.syncs = String(manualSyncs);
  fill(statusEl,
    h('div', { class: 'status-line' },
      waiting || !rejected ? h('span', { class: waiting ? 'pending' : 'synced' }, waiting ? t('status_pending', waiting) : t('status_all_synced')) : null,
      rejected ? h('span', { class: 'bad' }, t('status_rejected', rejected)) : null,
      h('span', { class: 'muted' }, last ? `${t('status_last_sync')} ${fmtTime(Date.parse(last))}` : t('status_never')),
      navigator.onLine ? null : h('span', { class: 'muted' }, t('status_offline')),
      h('button', { type: 'button', id: 'sync-now', disabled: syncing, onclick: manualSync }, syncing ? t('syncing') : t('sync_now'))),
    Number.isFinite(offset) && Math.abs(offset) > tolerance
      ? h('p', { class: 'clock-warning' }, t('clock_off', Math.round(Math.abs(offset) / 60_000)))
      : null,
    message ? h('p', { class: 'flash' }, message) : null);
}

async function manualSync() {
  syncing = true;
  renderStatus();
  try {
    await syncNow();
  } catch { /* the status shows what is still waiting */ }
  syncing = false;
  manualSyncs += 1;
  renderStatus();
}

function loginView() {
  const error = h('p', { class: 'error', role: 'alert' });
  const user = h('input', { id: 'username', autocomplete: 'username', autocapitalize: 'none', required: true });
  const pass = h('input', { id: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'card login' },
    h('h1', {}, t('login_title')),
    h('label', { for: 'username' }, t('username')), user,
    h('label', { for: 'password' }, t('password')), pass,
    h('button', { type: 'submit', class: 'big' }, t('login')),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      await api.login(user.value.trim(), pass.value);
      location.hash = '#/';
      await route();
      syncNow().catch(() => {});
    } catch (err) {
      const key = err instanceof api.NetworkError ? 'login_offline'
        : err.status === 429 ? 'login_limited'
          : ['device_revoked', 'user_disabled'].includes(err.code) ? err.code : 'login_failed';
      error.textContent = t(key);
    }
  });
  fill(main, form);
  user.focus();
}

let routeSeq = 0;
export async function route() {
  const seq = ++routeSeq;
  performance.mark('fv-route-start');
  document.documentElement.lang = lang();
  document.title = t('app_title');
  header();
  renderStatus();
  const user = api.session?.user;
  if (!user) return loginView();
  if (!FIELD_ROLES.includes(user.role)) {
    return fill(main, h('p', { class: 'error' }, t('wrong_role')), h('a', { class: 'button big', href: '/' }, t('open_dashboard')));
  }
  const [path, arg, arg2] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const screen = h('div', {});
  const draw = user.role === 'handler' ? () => handlerView(screen, user)
    : path === 'h' && arg ? () => householdView(screen, arg)
      : path === 'visit' && arg ? () => visitForm(screen, arg, arg2)
        : path === 'report' && arg ? () => ticketForm(screen, arg, arg2)
          : path === 'new' ? () => newHouseholdForm(screen, user, arg)
            : path === 'mine' ? () => mineView(screen)
              : () => householdsView(screen);
  const [attention] = await Promise.all([attentionPanel(), draw()]); // both read IndexedDB: at once
  if (seq !== routeSeq) return;
  fill(main, attention, screen);
  // The screen was built before the await above; what the user typed meanwhile (say, a search
  // while a sync's redraw was on its way) is applied now, or the redraw would undo it.
  screen.dispatchEvent(new Event('attached'));
  // For the measurement script (tests/browser/measure-app.js): screen drawn, from data on the phone.
  performance.measure('fv-route', 'fv-route-start');
  if (!performance.getEntriesByName('fv-ready').length) performance.mark('fv-ready');
}

/** Redraws the current screen after sync changed the data, unless the user is filling a form. */
async function refresh() {
  renderStatus();
  if (main.querySelector('form')) return;
  const focused = document.activeElement?.id;
  await route();
  const again = /** @type {HTMLInputElement | null} */ (focused && document.getElementById(focused));
  if (again && again !== document.activeElement) {
    again.focus();
    if (again.type === 'search') again.setSelectionRange(again.value.length, again.value.length);
  }
}

api.whenSignedOut(() => { flash(t('signed_out')); route(); });
addEventListener('hashchange', () => { message = ''; route(); });
addEventListener('online', renderStatus);
addEventListener('offline', renderStatus);
changes.addEventListener('change', refresh);

if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {});
setLang(lang());
await api.loadSession();
await route();
startSyncing();
// Exposed for the browser tests: what IndexedDB holds.
window.fieldvisit = { outbox: () => all('outbox'), households: () => all('households') };
