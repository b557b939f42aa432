// The live overdue board: open tickets (most overdue first), a countdown per current stage, colour
// and text by state, filters kept in the address, and alerts from the SSE stream that reload the
// list and stay highlighted for a minute.

import * as api from './api.js';
import { h, fill } from './dom.js';
import { t, tr, duration, when } from './i18n.js';
import { session, announce, areaName, teamName, categories } from './state.js';

const STAGES = ['classify', 'dispatch', 'on_site', 'close'];
const FILTERS = ['area_id', 'team_id', 'stage', 'category'];
const FRESH_MS = 60_000;
/** Ticket id → when its last alert arrived; kept across views so a return to the board still shows it. */
const fresh = new Map();
const recentAlerts = [];

/** @typedef {import('fieldvisit-api').Schema<'TicketOut'>} Ticket */

/**
 * The stage a ticket is in now (its latest started, uncompleted stage), if any.
 * @param {Ticket} ticket
 */
function currentStage(ticket) {
  const open = ticket.stages.filter((s) => s.started_at && !s.completed_at);
  return open[open.length - 1] ?? null;
}

/** @param {import('fieldvisit-api').Schema<'StageOut'> | null} stage */
function countdown(stage) {
  if (!stage?.due_at) return h('span', { class: 'countdown' }, t('not_due'));
  return h('span', { class: 'countdown', dataset: { due: stage.due_at } });
}

/** Rewrites every countdown from the clock; called each second. */
function tick(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll('.countdown[data-due]')) {
    const left = (Date.parse(el.dataset.due) - now) / 1000;
    el.textContent = left >= 0 ? `${t('due_in')} ${duration(left)}` : `${t('overdue_by')} ${duration(left)}`;
    el.classList.toggle('late', left < 0);
  }
  for (const card of root.querySelectorAll('.ticket.fresh')) {
    if (now - (fresh.get(card.dataset.ticketId) ?? 0) > FRESH_MS) card.classList.remove('fresh');
  }
}

/** @param {Ticket} ticket */
function stageStrip(ticket) {
  const latest = new Map();
  for (const s of ticket.stages) latest.set(s.name, s); // the latest cycle of each stage
  return h('ol', { class: 'stages', 'aria-label': t('stages') },
    STAGES.filter((n) => latest.has(n)).map((n) => {
      const s = latest.get(n);
      return h('li', { class: `chip state-${s.state}` }, `${tr('stage', n)}: ${tr('state', s.state)}`);
    }));
}

/** @param {Ticket} ticket */
function card(ticket) {
  const stage = currentStage(ticket);
  const state = stage?.state ?? (ticket.status === 'closed' ? 'met' : 'not_started');
  const isFresh = Date.now() - (fresh.get(ticket.id) ?? 0) < FRESH_MS;
  return h('li', { class: `ticket state-${state}${isFresh ? ' fresh' : ''}`, dataset: { ticketId: ticket.id } },
    h('div', { class: 'ticket-head' },
      h('a', { href: `#/ticket/${ticket.id}`, class: 'ticket-link' },
        `${tr('category', ticket.category)} · ${ticket.description}`),
      isFresh ? h('span', { class: 'badge' }, t('new_alert')) : null),
    h('p', { class: 'now' },
      h('strong', {}, `${tr('stage', ticket.stage)}: ${tr('state', state)}`), ' ', countdown(stage)),
    stageStrip(ticket),
    h('p', { class: 'meta' },
      `${t('area')}: ${areaName(ticket.area_id)} · ${t('team')}: ${teamName(ticket.team_id)} · `,
      `${t('severity')}: ${tr('severity', ticket.severity)} · ${t('reported_at')}: ${when(ticket.reported_at)}`));
}

function select(name, label, options, value) {
  return h('div', { class: 'field' },
    h('label', { for: `f-${name}` }, label),
    h('select', { id: `f-${name}`, name },
      h('option', { value: '' }, t('all')),
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
}

function filterForm(params) {
  const form = h('form', { class: 'filters', 'aria-label': t('filters') },
    select('area_id', t('area'), [...session.areas.values()].map((a) => [a.id, a.name]), params.get('area_id')),
    select('team_id', t('team'), [...session.teams.values()].map((x) => [x.id, x.name]), params.get('team_id')),
    select('stage', t('stage'), STAGES.map((s) => [s, tr('stage', s)]), params.get('stage')),
    select('category', t('category'), categories().map((c) => [c, tr('category', c)]), params.get('category')),
    h('div', { class: 'field check' },
      h('input', { type: 'checkbox', id: 'f-overdue', name: 'overdue', checked: params.get('overdue') !== 'false' }),
      h('label', { for: 'f-overdue' }, t('only_overdue'))),
    h('button', { type: 'submit' }, t('apply')));
  const apply = (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const f of FILTERS) if (form.elements[f].value) q.set(f, form.elements[f].value);
    if (!form.elements.overdue.checked) q.set('overdue', 'false');
    location.hash = `#/board?${q}`;
  };
  form.addEventListener('submit', apply);
  return form;
}

function alertItem(a) {
  // A day-end alert is about an area: it links to the area's open tickets.
  const link = a.day_end
    ? h('a', { href: `#/board?area_id=${a.day_end.area_id}&overdue=false` },
      `${tr('alert', a.type)} · ${a.day_end.area_name} · ${t('still_open')} ${a.day_end.open}`)
    : h('a', { href: `#/ticket/${a.ticket_id}` }, `${tr('alert', a.type)} · ${tr('stage', a.stage)}`);
  return h('li', {}, link, ` ${when(a.at)}`);
}

export async function boardView(main, params) {
  const list = h('ul', { class: 'board', id: 'board', 'aria-label': t('nav_board') });
  const count = h('p', { class: 'count', 'aria-live': 'polite' });
  const status = h('p', { class: 'live-status', id: 'live-status' });
  const alerts = h('ol', { class: 'alerts', reversed: true });
  fill(main,
    h('div', { class: 'board-head' }, h('h1', {}, t('nav_board')), status),
    filterForm(params),
    h('div', { class: 'board-grid' },
      h('section', { 'aria-label': t('nav_board') }, count, list),
      h('aside', { 'aria-label': t('new_alert') }, h('h2', {}, t('new_alert')), alerts)));

  const query = new URLSearchParams({ status: 'open', limit: '200' });
  if (params.get('overdue') !== 'false') query.set('overdue', 'true');
  for (const f of FILTERS) if (params.get(f)) query.set(f, params.get(f));

  async function load() {
    const page = await api.get(`/api/v1/tickets?${query}`);
    fill(list, page.tickets.length ? page.tickets.map(card) : h('li', { class: 'empty' }, t('no_tickets')));
    count.textContent = `${t('tickets_count')}: ${page.tickets.length}`;
    tick(list);
  }
  const showAlerts = () => fill(alerts, recentAlerts.length ? recentAlerts.map(alertItem) : h('li', { class: 'empty' }, t('empty')));

  await load();
  showAlerts();
  const timer = setInterval(() => tick(list), 1000);
  let reload = null;
  const stream = new EventSource('/api/v1/alerts/stream');
  stream.onopen = () => { status.textContent = `● ${t('live')}`; status.classList.remove('lost'); };
  stream.onerror = async () => {
    status.textContent = t('live_lost');
    status.classList.add('lost');
    // The session cookie may have expired: the stream is then closed for good, so refresh and reopen.
    if (stream.readyState === EventSource.CLOSED && (await api.refresh())) window.dispatchEvent(new HashChangeEvent('hashchange'));
  };
  for (const type of ['due_soon', 'overdue', 'escalated', 'retracted', 'day_end']) {
    stream.addEventListener(type, (e) => {
      const a = JSON.parse(e.data);
      if (a.ticket_id && type !== 'retracted') fresh.set(a.ticket_id, Date.now());
      recentAlerts.unshift({ ...a, type });
      recentAlerts.splice(10);
      showAlerts();
      announce(`${t('new_alert')}: ${tr('alert', type)} · ${a.day_end?.area_name ?? tr('stage', a.stage)}`);
      clearTimeout(reload);
      reload = setTimeout(() => load().catch(() => {}), 300); // one reload for a burst of alerts
    });
  }
  return () => {
    clearInterval(timer);
    clearTimeout(reload);
    stream.close();
  };
}
