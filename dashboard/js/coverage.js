// Coverage: per grid, how many households were visited since a date, and every door not visited
// yet (address and head of household), so a grid leader knows where to go next.

import * as api from './api.js';
import { h, fill, table } from './dom.js';
import { t } from './i18n.js';
import { sinceForm, sinceParam } from './since.js';

const pct = (share) => (share === null || share === undefined ? '—' : `${Math.round(share * 100)}%`);

export async function coverageView(main, params) {
  const since = sinceParam(params);
  const report = await api.get(`/api/v1/reports/coverage?since=${encodeURIComponent(since)}`);
  const grids = report.grids ?? [];
  fill(main,
    h('h1', {}, t('nav_coverage')),
    sinceForm('coverage', since),
    table(t('coverage_by_grid'), [t('grid'), t('households'), t('visited'), t('coverage_share'), t('unvisited')],
      grids.map((g) => [g.name, g.households, g.visited, pct(g.share), g.unvisited.length])),
    h('section', { class: 'report', id: 'unvisited', 'aria-labelledby': 'h-unvisited' },
      h('h2', { id: 'h-unvisited' }, t('unvisited_doors')),
      grids.some((g) => g.unvisited.length)
        ? grids.filter((g) => g.unvisited.length).map((g) => h('details', { class: 'grid-doors' },
          h('summary', {}, `${g.name}（${g.unvisited.length}）`),
          h('ul', {}, g.unvisited.map((d) => h('li', {}, `${d.address} · ${d.head_name}`)))))
        : h('p', {}, t('all_visited'))));
  return () => {};
}
