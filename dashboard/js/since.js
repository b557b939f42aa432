// The "since" date form the coverage and temperature pages share (default: 30 days ago).

import { h } from './dom.js';
import { t } from './i18n.js';

/** The `since` of the page's address, or the date 30 days ago (YYYY-MM-DD). */
export function sinceParam(params) {
  const given = params.get('since');
  if (given && /^\d{4}-\d{2}-\d{2}$/.test(given)) return given;
  const d = new Date(Date.now() - 30 * 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function sinceForm(view, since) {
  const input = h('input', { type: 'date', id: `${view}-since`, value: since });
  const form = h('form', { class: 'filters' },
    h('div', { class: 'field' }, h('label', { for: `${view}-since` }, t('since')), input),
    h('button', { type: 'submit' }, t('apply')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/${view}?since=${input.value}`;
  });
  return form;
}
