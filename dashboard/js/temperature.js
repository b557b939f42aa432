// Indoor temperature per area: visits that measured it, the 10th and 50th percentile, and the
// households whose latest reading is below the standard, as a chart and the same numbers as a table.

import * as api from './api.js';
import { h, fill, table } from './dom.js';
import { t, lang } from './i18n.js';
import { sinceForm, sinceParam } from './since.js';

const deg = (v) => (v === null || v === undefined ? '—' : `${v.toFixed(1)}℃`);

function chart(canvas, areas, standard) {
  if (!window.Chart) return null;
  return new window.Chart(canvas, {
    type: 'bar',
    data: {
      labels: areas.map((a) => a.name),
      datasets: [
        { label: t('temp_p10'), backgroundColor: '#1a5fb4', data: areas.map((a) => a.p10_c) },
        { label: t('temp_p50'), backgroundColor: '#c64600', data: areas.map((a) => a.p50_c) },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { y: { suggestedMin: 10, suggestedMax: Math.max(24, standard + 2), ticks: { callback: (v) => `${v}℃` } } },
      plugins: { legend: { position: 'bottom' } },
      locale: lang(),
    },
  });
}

export async function temperatureView(main, params) {
  const since = sinceParam(params);
  const report = await api.get(`/api/v1/reports/temperature?since=${encodeURIComponent(since)}`);
  const areas = report.areas ?? [];
  const canvas = h('canvas', { role: 'img', 'aria-label': t('nav_temperature') });
  fill(main,
    h('h1', {}, t('nav_temperature')),
    sinceForm('temperature', since),
    h('p', { id: 'temp-standard' }, `${t('temp_standard')}: ${deg(report.standard_c)}`),
    areas.length ? h('div', { class: 'chart' }, canvas) : null,
    table(t('nav_temperature'), [t('area'), t('visits_measured'), t('temp_p10'), t('temp_p50'), t('below_standard')],
      areas.map((a) => [a.name, a.visits_measured, deg(a.p10_c), deg(a.p50_c), a.households_below_standard])));
  const drawn = areas.length ? chart(canvas, areas, report.standard_c ?? 18) : null;
  return () => drawn?.destroy();
}
