// The station handler's screen: tickets dispatched to their team, most urgent first (earliest due),
// with the household's address; one tap for on site, resolved (note and photo) and the resident's
// feedback. Events go through the same outbox as everything else, so this works offline too.

import { h, fill, uuid } from '../../ui/js/dom.js';
import { t } from './i18n.js';
import { all, getKv } from './store.js';
import { save, nowRfc3339 } from './sync.js';
import { field, photoPicker, ticketCard } from './ui.js';
import { progress } from './deadline.js';
import { flash, route } from './main.js';

const RANK = { critical: 0, urgent: 1, normal: 2 };

async function addEvent(ticketId, type, extra = {}) {
  await save('ticket_event', { id: uuid(), ticket_id: ticketId, type, occurred_at: nowRfc3339(), ...extra });
  flash(t('saved'));
  await route(); // the open form is done with: redraw the list
}

function actions(ticket, p) {
  const spot = h('div', { class: 'more' });
  const mark = (done, label) => (done ? `${t('done_mark')} ${label}` : label);
  const resolveForm = () => {
    const note = h('textarea', { rows: 2 });
    const photos = [];
    const form = h('form', {}, field(t('resolve_note'), note), photoPicker(photos),
      h('button', { type: 'submit', class: 'big' }, t('save')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      await addEvent(ticket.id, 'resolved', { ...(note.value.trim() ? { note: note.value.trim() } : {}), ...(photos.length ? { photos } : {}) });
    });
    fill(spot, form);
    note.focus();
  };
  // A form, so a sync finishing meanwhile does not redraw it away under the thumb.
  const feedback = () => fill(spot, h('form', { class: 'actions', role: 'group', 'aria-label': t('feedback') },
    ['satisfied', 'neutral', 'unsatisfied'].map((s) => h('button', {
      type: 'button', class: 'big', onclick: () => addEvent(ticket.id, 'feedback', { satisfaction: s }),
    }, t(`sat_${s}`)))));
  return h('div', {},
    h('div', { class: 'actions big-actions' },
      h('button', { type: 'button', class: 'big', 'aria-pressed': String(p.onSite), onclick: () => addEvent(ticket.id, 'on_site') }, mark(p.onSite, t('on_site'))),
      h('button', { type: 'button', class: 'big', 'aria-pressed': String(p.resolved), onclick: resolveForm }, mark(p.resolved, t('resolved'))),
      h('button', { type: 'button', class: 'big', 'aria-pressed': String(p.feedback), onclick: feedback }, mark(p.feedback, t('feedback')))),
    spot);
}

export async function handlerView(el, user) {
  const [tickets, households, events, policy] = await Promise.all([all('tickets'), all('households'), all('events'), getKv('policy')]);
  const homes = new Map(households.map((x) => [x.id, x]));
  const open = tickets
    .filter((x) => x.team_id === user.team_id)
    .map((x) => ({ x, p: progress(x, events, policy) }))
    // A ticket closed on this phone stays listed until its events have gone out.
    .filter(({ x, p }) => !p.closed || events.some((e) => e.ticket_id === x.id && e._pending))
    .sort((a, b) => (a.p.dueAt ?? Infinity) - (b.p.dueAt ?? Infinity) || RANK[a.x.severity] - RANK[b.x.severity]);
  fill(el, h('h1', {}, t('handler_tickets')),
    open.length ? open.map(({ x }) => ticketCard(x, homes.get(x.household_id), events, policy, (p) => actions(x, p))) : h('p', {}, t('no_tickets')));
}
