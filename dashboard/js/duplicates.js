// #/duplicates: households of one grid registered twice (same address and head's name, as the
// server normalises them), oldest first; the desk merges a later one into the first.

import * as api from './api.js';
import { h, fill, table } from './dom.js';
import { t, when } from './i18n.js';

export async function duplicatesView(main) {
  const status = h('p', { class: 'status', role: 'status', id: 'dup-status' });
  const draw = async () => {
    const { groups } = await api.get('/api/v1/households/duplicates');
    const sections = groups.map((g) => {
      const [keep] = g.households;
      const rows = g.households.map((x, i) => [
        x.address, x.head_name, x.visit_count ?? 0, when(x.last_visited_at),
        i === 0
          ? t('dup_kept')
          : h('button', { type: 'button', class: 'dup-merge', dataset: { id: x.id }, onclick: async (e) => {
            e.target.disabled = true;
            try {
              await api.post(`/api/v1/households/${encodeURIComponent(x.id)}/merge`, { into: keep.id });
              status.textContent = `${t('dup_merged')}: ${x.address}`;
              await draw();
            } catch (err) {
              e.target.disabled = false;
              status.textContent = `${t('error')}: ${err.message}`;
            }
          } }, t('dup_merge')),
      ]);
      return h('section', { class: 'report' }, h('h2', {}, g.name),
        table(`${g.name} — ${keep.address}`, [t('dup_address'), t('dup_head'), t('dup_visits'), t('dup_last_visit'), ''], rows));
    });
    fill(main, h('h1', {}, t('nav_duplicates')), h('p', {}, t('dup_hint')), status,
      sections.length ? sections : h('p', { id: 'dup-none' }, t('dup_none')));
  };
  await draw();
  return () => {};
}
