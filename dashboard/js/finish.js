// Finishing a ticket from its page: arrival on site, resolution, the resident's feedback, and
// after the close the callback (回访) and a reopen; the dispatch form's team list with the teams
// that fit the ticket first; and the ticket's photos.

import * as api from './api.js';
import { h, uuid } from './dom.js';
import { t, tr } from './i18n.js';
import { session, announce } from './state.js';

const DESK = ['dispatcher', 'supervisor', 'admin'];
/** Who may write each event type from the dashboard (the server's table, `auth/authz.rs`). */
const WRITERS = { on_site: DESK, resolved: DESK, feedback: DESK, callback: DESK, reopened: DESK };
const SATISFACTION = ['satisfied', 'neutral', 'unsatisfied'];

/** @typedef {import('fieldvisit-api').Schema<'TicketOut'>} Ticket */

export const mayWrite = (type) => (WRITERS[type] ?? []).includes(session.user?.role);

/** A form that posts one event of `type`; `fields` are [name, label, control] and `extra`
 *  turns the form's values into the event's other fields. */
function eventForm(ticketId, type, fields, submit, extra, done) {
  const message = h('p', { class: 'form-message', role: 'status' });
  const form = h('form', { class: 'action', id: `${type}-form` },
    h('h3', {}, tr('event', type)),
    fields.map(([name, label, control]) => [h('label', { for: `${type}-${name}` }, label), control]),
    h('button', { type: 'submit' }, submit), message);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values = Object.fromEntries(fields.map(([name]) => [name, form.elements[name].value]));
    try {
      await api.post(`/api/v1/tickets/${encodeURIComponent(ticketId)}/events`, {
        id: uuid(), ticket_id: ticketId, type, occurred_at: new Date().toISOString(), ...extra(values),
      });
      announce(t('saved'));
      await done();
    } catch (err) {
      message.textContent = `${t('error')}: ${err.message}`;
    }
  });
  return form;
}

const satisfactionSelect = (id) => h('select', { id, name: 'satisfaction', required: true },
  SATISFACTION.map((s) => h('option', { value: s }, tr('satisfaction', s))));
const noteInput = (id) => h('input', { id, name: 'note', maxlength: 4000, placeholder: t('note') });
const withNote = (v) => (v.note ? { note: v.note } : {});

/** The finishing forms the caller may use on this ticket: on site, resolved and feedback while it
 *  is open; callback and reopen once it is closed.
 *  @param {Ticket} ticket */
export function finishForms(ticket, done) {
  const id = ticket.id;
  const forms = ticket.status === 'open'
    ? [
      ['on_site', [['note', t('note'), noteInput('on_site-note')]], t('submit_on_site'), withNote],
      ['resolved', [['note', t('note'), noteInput('resolved-note')]], t('submit_resolved'), withNote],
      ['feedback', [['satisfaction', t('satisfaction'), satisfactionSelect('feedback-satisfaction')],
        ['note', t('note'), noteInput('feedback-note')]], t('submit_feedback'), (v) => ({ satisfaction: v.satisfaction, ...withNote(v) })],
    ]
    : [
      ['callback', [['satisfaction', t('satisfaction'), satisfactionSelect('callback-satisfaction')],
        ['note', t('note'), noteInput('callback-note')]], t('submit_callback'), (v) => ({ satisfaction: v.satisfaction, ...withNote(v) })],
      ['reopened', [['note', t('note'), noteInput('reopened-note')]], t('submit_reopen'), withNote],
    ];
  return forms.filter(([type]) => mayWrite(type))
    .map(([type, fields, submit, extra]) => eventForm(id, type, fields, submit, extra, done));
}

/** Whether the team's area holds the ticket's area (a team above the caller's scope holds all of it). */
function serves(team, areaId) {
  if (!session.areas.has(team.area_id)) return true;
  for (let a = session.areas.get(areaId); a; a = session.areas.get(a.parent_id)) {
    if (a.id === team.area_id) return true;
  }
  return false;
}

/** The dispatch form's options: the teams that handle the ticket's category and serve its area
 *  first, then the others.
 *  @param {Ticket} ticket */
export function teamOptions(ticket, selected) {
  const teams = [...session.teams.values()];
  const fits = (x) => (x.categories ?? []).includes(ticket.category) && serves(x, ticket.area_id);
  const option = (x) => h('option', { value: x.id, selected: x.id === selected }, x.name);
  const best = teams.filter(fits);
  const rest = teams.filter((x) => !fits(x));
  return [
    best.length ? h('optgroup', { label: t('teams_suggested') }, best.map(option)) : null,
    rest.length ? h('optgroup', { label: t('teams_other') }, rest.map(option)) : null,
  ].filter(Boolean);
}

/** The first suggested team, the likely choice.
 *  @param {Ticket} ticket */
export function suggestedTeam(ticket) {
  return [...session.teams.values()].find((x) => (x.categories ?? []).includes(ticket.category) && serves(x, ticket.area_id))?.id;
}

/** The ticket's photos, fetched with the session cookie like any API call.
 *  @param {Ticket} ticket */
export function photos(ticket) {
  const list = ticket.photos ?? [];
  if (!list.length) return h('p', {}, t('no_photos'));
  return h('ul', { class: 'photos', id: 'photos' }, list.map((sha, i) => h('li', {},
    h('a', { href: `/api/v1/blobs/${sha}`, target: '_blank', rel: 'noopener' },
      h('img', { src: `/api/v1/blobs/${sha}`, alt: `${t('photo')} ${i + 1}`, loading: 'lazy' })))));
}
