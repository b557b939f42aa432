// What needs the user: records the server sent back (rejected: the field and the message, with a
// way to correct or, deliberately, discard them; never dropped silently) and records the server
// kept in its own version (conflict) or merged with another edit (merged), shown side by side.

import { h } from '../../ui/js/dom.js';
import { t, fmtTime } from './i18n.js';
import { tx } from './store.js';
import { discard, dismissNotice } from './sync.js';

const EDIT = { visit: (r) => `#/visit/${r.household_id}/${r.id}`, ticket: (r) => `#/report/${r.household_id}/${r.id}`, household: (r) => `#/new/${r.id}` };

// The words for a field the server names by its wire path (`visits[3].indoor_temp_c`).
const LABEL = { indoor_temp_c: 'indoor_temp', head_name: 'head_name', resolved_on_the_spot: 'resolved_on_spot', service_card_given: 'service_card_given' };
const fieldLabel = (path) => {
  const leaf = path.split('.').pop().replace(/\[\d+\]$/, '');
  return t(LABEL[leaf] ?? leaf);
};

function summary(type, r) {
  if (!r) return '—';
  if (type === 'household') return `${r.address ?? ''} ${r.head_name ?? ''}`;
  if (type === 'visit') return `${fmtTime(Date.parse(r.visited_at))} · ${t('indoor_temp')} ${r.indoor_temp_c ?? '—'}`;
  if (type === 'ticket') return `${r.category ?? ''} · ${r.description ?? ''}`;
  return `${r.type ?? ''} ${r.note ?? ''}`;
}

/** The fields that differ between two versions, as rows "field: mine | theirs". */
function sideBySide(mine, theirs, fields) {
  const keys = fields.length ? fields : Object.keys(mine ?? {}).filter((k) => JSON.stringify(mine[k]) !== JSON.stringify(theirs?.[k]) && !k.startsWith('_'));
  return h('table', { class: 'sides' },
    h('thead', {}, h('tr', {}, h('th', {}, t('field')), h('th', {}, t('my_side')), h('th', {}, t('server_side')))),
    h('tbody', {}, keys.map((k) => h('tr', {}, h('td', {}, fieldLabel(k)), h('td', {}, shown(mine?.[k])), h('td', {}, theirs ? shown(theirs[k]) : '—')))));
}

const shown = (v) => (v == null ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

export async function attentionPanel() {
  const [outbox, notices, stored] = await tx(['outbox', 'notices', 'photos'], 'readonly', (s) => Promise.all([s.outbox.all(), s.notices.all(), s.photos.all()]));
  const rejected = outbox.filter((e) => e.state === 'rejected');
  const photos = stored.filter((p) => p.error);
  if (!rejected.length && !notices.length && !photos.length) return null;
  return h('section', { class: 'attention', 'aria-labelledby': 'attention-title' },
    h('h2', { id: 'attention-title' }, t('need_action')),
    rejected.map((e) => h('article', { class: 'card rejected' },
      h('h3', {}, `${t('rejected')}: ${t(`type_${e.type}`)}`),
      h('p', {}, summary(e.type, e.record)),
      h('p', { class: 'error' }, e.error?.field ? `${fieldLabel(e.error.field)}: ` : '', e.error?.message ?? e.error?.code ?? ''),
      e.error?.field ? h('p', { class: 'muted' }, `${t('field')} ${e.error.field}`) : null,
      h('div', { class: 'actions' },
        EDIT[e.type] ? h('a', { class: 'button', href: EDIT[e.type](e.record) }, t('fix')) : null,
        h('button', { type: 'button', class: 'quiet', onclick: () => { if (confirm(t('discard_confirm'))) discard(e.id); } }, t('discard'))))),
    photos.map((p) => h('p', { class: 'error' }, `${t('photo_refused')}: ${p.error}`)),
    notices.map((n) => h('article', { class: 'card notice' },
      h('h3', {}, `${t(n.kind)}: ${t(`type_${n.type}`)}`),
      h('p', {}, summary(n.type, n.theirs ?? n.mine)),
      sideBySide(n.mine, n.theirs, n.fields),
      h('button', { type: 'button', onclick: () => dismissNotice(n.id) }, t('ok')))));
}
