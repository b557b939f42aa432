// Compliance by area and by team (on-time rate per stage, as a chart and the same numbers as a
// table for screen readers), the day-end clearance table, and CSV export links.

import * as api from './api.js';
import { h, fill, table } from './dom.js';
import { t, tr, lang } from './i18n.js';
import { checklistSection } from './checklists.js';

const STAGES = ['classify', 'dispatch', 'on_site', 'close'];
const COLOURS = { classify: '#1a5fb4', dispatch: '#9141ac', on_site: '#c64600', close: '#26a269' };

/** Share of a stage's finished-or-overdue tickets that met their deadline, in percent; null without any. */
function onTime(stats) {
  const all = (stats?.met ?? 0) + (stats?.late ?? 0) + (stats?.overdue ?? 0);
  return all ? Math.round((stats.met / all) * 100) : null;
}

const pct = (v) => (v === null ? '—' : `${v}%`);

/** Chart.js options of a bar chart of percentages (0–100), legend below. */
export function percentOptions() {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    scales: { y: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } } },
    plugins: { legend: { position: 'bottom' } },
    locale: lang(),
  };
}

function chart(canvas, groups) {
  if (!window.Chart) return null; // the vendored script failed to load; the table still shows the numbers
  return new window.Chart(canvas, {
    type: 'bar',
    data: {
      labels: groups.map((g) => tr('group', g.name)),
      datasets: STAGES.map((s) => ({
        label: tr('stage', s), backgroundColor: COLOURS[s], minBarLength: 3, data: groups.map((g) => onTime(g.stages[s])),
      })),
    },
    options: percentOptions(),
  });
}

function complianceSection(key, title, groups, csv) {
  const canvas = h('canvas', { role: 'img', 'aria-label': `${t('compliance')} — ${title}` });
  const section = h('section', { class: 'report', id: `compliance-${key}`, 'aria-labelledby': `h-${key}` },
    h('div', { class: 'section-head' },
      h('h2', { id: `h-${key}` }, `${t('compliance')} — ${title}`),
      h('a', { href: csv, download: `compliance-${key}.csv`, class: 'button' }, t('csv_export'))),
    groups.length ? h('div', { class: 'chart' }, canvas) : h('p', {}, t('empty')),
    table(`${t('compliance')} — ${title}`, [title, t('tickets_count'), t('on_time_rate'), ...STAGES.map((s) => tr('stage', s))],
      groups.map((g) => [tr('group', g.name), g.tickets, g.on_time_rate === null || g.on_time_rate === undefined ? '—' : `${Math.round(g.on_time_rate * 100)}%`,
        ...STAGES.map((s) => pct(onTime(g.stages[s])))])));
  return { section, draw: () => (groups.length ? chart(canvas, groups) : null) };
}

function dailySection(report, date) {
  const input = h('input', { type: 'date', id: 'daily-date', value: date });
  const form = h('form', { class: 'filters' },
    h('div', { class: 'field' }, h('label', { for: 'daily-date' }, t('date')), input),
    h('button', { type: 'submit' }, t('apply')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/reports?date=${input.value}`;
  });
  const rows = report.areas ?? [];
  return h('section', { class: 'report', id: 'daily', 'aria-labelledby': 'h-daily' },
    h('h2', { id: 'h-daily' }, t('daily')), form,
    table(t('daily'), [t('area'), t('reported'), t('closed'), t('still_open'), t('overdue')],
      rows.map((r) => [r.name, r.reported, r.closed, r.still_open, r.overdue])));
}

export async function reportsView(main, params) {
  const date = params.get('date') || '';
  const [byArea, byTeam, daily, checklist] = await Promise.all([
    api.get('/api/v1/reports/compliance?group_by=area'),
    api.get('/api/v1/reports/compliance?group_by=team'),
    api.get(`/api/v1/reports/daily?${date ? `date=${encodeURIComponent(date)}` : ''}`),
    checklistSection(params.get('template_id')),
  ]);
  const area = complianceSection('area', t('by_area'), byArea.groups, '/api/v1/reports/compliance?group_by=area&format=csv');
  const team = complianceSection('team', t('by_team'), byTeam.groups, '/api/v1/reports/compliance?group_by=team&format=csv');
  fill(main, h('h1', {}, t('nav_reports')), area.section, team.section, dailySection(daily, date || daily.date || ''), checklist.section);
  const charts = [area.draw(), team.draw(), checklist.draw()];
  return () => charts.forEach((c) => c?.destroy());
}
