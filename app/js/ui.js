// Form pieces and the ticket card, shared by the volunteer's and the handler's screens.

import { h } from '../../ui/js/dom.js';
import { t, fmtTime, fmtDuration } from './i18n.js';
import { progress } from './deadline.js';
import { takePhoto } from './photo.js';

/** A labelled control: the label names it for screen readers and tests (getByLabel). */
export function field(label, input, hint) {
  const id = input.id || (input.id = `f-${Math.random().toString(36).slice(2, 9)}`);
  const isCheck = input.type === 'checkbox';
  return h('div', { class: isCheck ? 'field check' : 'field' },
    isCheck ? input : null,
    h('label', { for: id }, label),
    isCheck ? null : input,
    hint ? h('small', {}, hint) : null);
}

export const checkbox = (checked) => h('input', { type: 'checkbox', checked: Boolean(checked) });

export function select(options, value) {
  return h('select', {}, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

/** The camera button and thumbnails; `photos` (an array of hashes) grows as photos are taken. */
export function photoPicker(photos) {
  const thumbs = h('div', { class: 'thumbs' });
  const input = h('input', { type: 'file', accept: 'image/*', capture: 'environment', class: 'file' });
  const problem = h('p', { class: 'error', role: 'alert' });
  input.addEventListener('change', async () => {
    problem.textContent = '';
    for (const file of input.files) {
      try {
        const { hash, thumb } = await takePhoto(file);
        if (!photos.includes(hash)) photos.push(hash);
        thumbs.append(h('img', { src: thumb, alt: t('photo_taken') }));
      } catch {
        problem.textContent = t('photo_failed'); // a format the browser cannot decode
      }
    }
    input.value = '';
  });
  return h('div', { class: 'field' }, h('label', { class: 'button camera' }, input, t('photo')), thumbs, problem);
}

/** A code's words (`cat_heating`), or the code itself where the app has none (a county's own category). */
export function label(prefix, code) {
  const words = t(`${prefix}_${code}`);
  return words === `${prefix}_${code}` ? code : words;
}

export function dueText(dueAt, now = Date.now()) {
  if (!Number.isFinite(dueAt)) return '';
  const left = (dueAt - now) / 1000;
  return left < 0 ? `${t('overdue_by')} ${fmtDuration(left)}` : `${t('due_in')} ${fmtDuration(left)} (${fmtTime(dueAt)})`;
}

/** One ticket: stage, due time (offline-computed where needed), address; `extra` adds buttons. */
export function ticketCard(ticket, household, events, policy, extra) {
  const p = progress(ticket, events, policy);
  const overdue = !p.closed && Number.isFinite(p.dueAt) && p.dueAt < Date.now();
  return h('article', { class: `card ticket sev-${ticket.severity}${overdue ? ' overdue' : ''}`, dataset: { ticketId: ticket.id } },
    h('h3', {}, household?.address ?? '—'),
    h('p', {}, h('strong', {}, label('cat', ticket.category)), ' · ', t(`sev_${ticket.severity}`),
      ticket._pending || events.some((e) => e.ticket_id === ticket.id && e._pending) ? h('span', { class: 'tag pending' }, t('not_synced')) : null),
    h('p', {}, ticket.description),
    h('p', { class: 'stage' }, `${t('stage')}: `, h('strong', { dataset: { stage: p.stage } }, t(`stage_${p.stage}`)),
      p.closed ? null : h('span', { class: overdue ? 'due overdue' : 'due' }, ' · ', dueText(p.dueAt))),
    extra ? extra(p) : null);
}
