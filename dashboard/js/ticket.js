// One ticket: its stages, photos, its event timeline (corrected vs raw device time, sync delay, who
// and which device) and the desk's actions: classify, dispatch and finish (finish.js).

import * as api from './api.js';
import { h, fill, table, uuid } from './dom.js';
import { t, tr, duration, when } from './i18n.js';
import { announce, areaName, teamName, userName, categories } from './state.js';
import { finishForms, teamOptions, suggestedTeam, photos } from './finish.js';

/** @typedef {import('fieldvisit-api').Schema<'TicketDetail'>} Ticket */

/** @param {Ticket} ticket */
function facts(ticket) {
  const rows = [
    ['status', tr('status', ticket.status)],
    ['stage', tr('stage', ticket.stage)],
    ['category', tr('category', ticket.category)],
    ['severity', tr('severity', ticket.severity)],
    ['area', areaName(ticket.area_id)],
    ['team', teamName(ticket.team_id)],
    ['reported_at', when(ticket.reported_at)],
    ['received_at', when(ticket.received_at)],
    ['sync_delay', duration(ticket.sync_delay_s ?? 0)],
    ['description', ticket.description],
  ];
  return h('dl', { class: 'facts', id: 'facts' },
    rows.map(([key, v]) => [h('dt', {}, t(key)), h('dd', { dataset: { fact: key } }, v)]));
}

/** @param {Ticket} ticket */
function stagesTable(ticket) {
  return table(t('stages'), [t('stage'), t('cycle'), t('started_at'), t('due_at'), t('completed_at'), t('state')],
    ticket.stages.map((s) => [tr('stage', s.name), s.cycle, when(s.started_at), when(s.due_at), when(s.completed_at),
      h('span', { class: `chip state-${s.state}` }, tr('state', s.state))]));
}

/** @param {Ticket['events']} events */
function timeline(events) {
  if (!events?.length) return h('p', {}, t('empty'));
  return h('ol', { class: 'timeline', id: 'timeline' }, events.map((e) => {
    const delay = (Date.parse(e.received_at) - Date.parse(e.occurred_at)) / 1000;
    const detail = [e.category && `${t('category')}: ${tr('category', e.category)}`,
      e.team_id && `${t('team')}: ${teamName(e.team_id)}`,
      e.satisfaction && `${t('satisfaction')}: ${tr('satisfaction', e.satisfaction)}`, e.note].filter(Boolean).join(' · ');
    return h('li', { class: 'event' },
      h('h3', {}, tr('event', e.type)),
      detail ? h('p', {}, detail) : null,
      h('dl', { class: 'facts small' },
        h('dt', {}, t('corrected_time')), h('dd', {}, when(e.occurred_at)),
        h('dt', {}, t('raw_time')), h('dd', {}, when(e.device_occurred_at)),
        h('dt', {}, t('received_at')), h('dd', {}, when(e.received_at)),
        h('dt', {}, t('sync_delay')), h('dd', {}, duration(delay)),
        h('dt', {}, t('clock_verified')), h('dd', {}, e.clock_verified ? t('yes') : t('no')),
        h('dt', {}, t('who')), h('dd', {}, e.user_name || userName(e.user_id)),
        h('dt', {}, t('device')), h('dd', {}, e.device_id)));
  }));
}

/** A one-select form that posts one ticket event. */
function actionForm(ticketId, id, label, name, options, selected, submit, toEvent, done) {
  const message = h('p', { class: 'form-message', role: 'status' });
  const form = h('form', { class: 'action', id: `${id}-form` },
    h('h3', {}, label),
    h('label', { for: id }, label),
    h('select', { id, name, required: true },
      options.map((o) => (o instanceof Node ? o : h('option', { value: o[0], selected: o[0] === selected }, o[1])))),
    h('button', { type: 'submit' }, submit), message);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api.post(`/api/v1/tickets/${encodeURIComponent(ticketId)}/events`, {
        id: uuid(), ticket_id: ticketId, occurred_at: new Date().toISOString(), ...toEvent(form.elements[name].value),
      });
      announce(t('saved'));
      await done();
    } catch (err) {
      message.textContent = `${t('error')}: ${err.message}`;
    }
  });
  return form;
}

export async function ticketView(main, id) {
  async function render() {
    const ticket = await api.get(`/api/v1/tickets/${encodeURIComponent(id)}`);
    const open = ticket.status === 'open';
    const classify = (category) => ({ type: 'classified', category });
    const dispatch = (team) => ({ type: 'dispatched', team_id: team });
    const cats = [...new Set([ticket.category, ...categories()])];
    fill(main,
      h('p', {}, h('a', { href: '#/board' }, `← ${t('back')}`)),
      h('h1', {}, `${tr('category', ticket.category)} · ${ticket.description}`),
      h('div', { class: 'ticket-grid' },
        h('section', { 'aria-labelledby': 'facts-h' }, h('h2', { id: 'facts-h' }, t('status')), facts(ticket)),
        h('section', { class: 'actions', 'aria-labelledby': 'actions-h' }, h('h2', { id: 'actions-h' }, t('actions')),
          open ? actionForm(id, 'classify', t('classify'), 'category', cats.map((c) => [c, tr('category', c)]), ticket.category, t('submit_classify'), classify, render) : null,
          open ? actionForm(id, 'dispatch', t('dispatch'), 'team', teamOptions(ticket, ticket.team_id ?? suggestedTeam(ticket)),
            ticket.team_id ?? suggestedTeam(ticket), t('submit_dispatch'), dispatch, render) : null,
          finishForms(ticket, render))),
      h('section', { 'aria-labelledby': 'photos-h' }, h('h2', { id: 'photos-h' }, t('photos')), photos(ticket)),
      h('section', { 'aria-labelledby': 'stages-h' }, h('h2', { id: 'stages-h' }, t('stages')), stagesTable(ticket)),
      h('section', { 'aria-labelledby': 'timeline-h' }, h('h2', { id: 'timeline-h' }, t('timeline')), timeline(ticket.events)));
  }
  await render();
  return () => {};
}
