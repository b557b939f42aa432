// The callback list (回访): closed tickets whose resident is still to be called back, oldest close
// first, with the number to call; the callback itself is recorded on the ticket's page.

import * as api from './api.js';
import { h, fill, table } from './dom.js';
import { t, tr, duration, when } from './i18n.js';
import { areaName } from './state.js';

export async function callbacksView(main, params) {
  const pending = params.get('pending') !== 'false';
  const rows = [];
  const body = h('div', { id: 'callbacks' });
  const more = h('button', { type: 'button', id: 'callbacks-more', hidden: true }, t('more'));
  let cursor = null;

  const row = (x) => [
    h('a', { href: `#/ticket/${x.id}` }, x.household?.address ?? x.id),
    x.household?.head_name ?? '—',
    x.household?.phone ?? '—',
    tr('category', x.category),
    areaName(x.area_id),
    when(x.closed_at),
    x.callback_overdue_s > 0 ? h('span', { class: 'late' }, `${t('overdue_by')} ${duration(x.callback_overdue_s)}`) : when(x.callback_due_at),
    x.feedback_satisfaction ? tr('satisfaction', x.feedback_satisfaction) : '—',
  ];
  async function load() {
    const q = new URLSearchParams({ limit: '100' });
    if (pending) q.set('pending', 'true');
    if (cursor) q.set('cursor', cursor);
    const page = await api.get(`/api/v1/callbacks?${q}`);
    rows.push(...page.tickets);
    cursor = page.cursor;
    more.hidden = !page.has_more;
    fill(body, rows.length
      ? table(t('nav_callbacks'), [t('address'), t('head_name'), t('phone'), t('category'), t('area'), t('closed_at'), t('callback_due'), t('feedback_given')], rows.map(row))
      : h('p', { class: 'empty' }, t('no_callbacks')));
    return page;
  }
  more.addEventListener('click', () => load().catch(() => {}));
  const first = await load();
  const toggle = h('p', {}, h('a', { href: pending ? '#/callbacks?pending=false' : '#/callbacks', id: 'callbacks-toggle' },
    pending ? t('callbacks_late_only') : t('callbacks_all')));
  fill(main,
    h('h1', {}, t('nav_callbacks')),
    h('p', { id: 'callback-window' }, `${t('callback_window')}: ${first.callback_within_h} ${t('hours')}`),
    toggle, body, more);
  return () => {};
}
