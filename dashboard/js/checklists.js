// Checklist templates on the dashboard: the checklist report (per area and item, a chart of the
// yes/no items and the same numbers as a table, CSV export) for the reports page, and the admin's
// template editor (#/checklists): add, reorder and retire items; each save is a new version.

import * as api from './api.js';
import { h, fill, table } from './dom.js';
import { t, tr } from './i18n.js';
// reports.js imports this module too; percentOptions is only called once both have loaded.
import { percentOptions } from './reports.js';

const TYPES = ['bool', 'number', 'text', 'choice'];
const COLOURS = ['#1a5fb4', '#9141ac', '#c64600', '#26a269', '#a51d2d', '#63452c', '#986a44', '#1c71d8'];
const percent = (share) => (share === undefined || share === null ? '—' : `${Math.round(share * 100)}%`);

/** What the report says of one item in one area, in words. */
function result(item) {
  if (item.type === 'bool') return `${t('cl_share_yes')} ${percent(item.share_true)}`;
  if (item.type === 'number') return item.p50 === undefined ? '—' : `P10 ${item.p10} · P50 ${item.p50}`;
  if (item.type === 'choice') return Object.entries(item.choices ?? {}).map(([c, n]) => `${c} ${n}`).join('、');
  return '—';
}

function chart(canvas, areas) {
  if (!window.Chart) return null; // the table still shows the numbers
  const items = (areas[0]?.items ?? []).filter((i) => i.type === 'bool');
  return new window.Chart(canvas, {
    type: 'bar',
    data: {
      labels: items.map((i) => i.label),
      datasets: areas.map((a, n) => ({
        label: a.name,
        backgroundColor: COLOURS[n % COLOURS.length],
        minBarLength: 3,
        data: items.map((i) => {
          const found = a.items.find((x) => x.key === i.key);
          return found?.share_true === undefined ? null : Math.round(found.share_true * 100);
        }),
      })),
    },
    options: percentOptions(),
  });
}

/** The reports page's checklist section; `draw()` makes its chart once it is in the page. */
export async function checklistSection(templateId) {
  const query = templateId ? `template_id=${encodeURIComponent(templateId)}` : '';
  const report = await api.get(`/api/v1/reports/checklist?${query}`);
  const title = `${t('cl_report')} — ${report.name}`;
  const canvas = h('canvas', { role: 'img', 'aria-label': title });
  const rows = report.areas.flatMap((a) => a.items.map((i) => [a.name, i.label, tr('cl_type', i.type), i.answered, result(i)]));
  const csv = `/api/v1/reports/checklist?template_id=${encodeURIComponent(report.template_id)}&format=csv`;
  const section = h('section', { class: 'report', id: 'checklist-report', 'aria-labelledby': 'h-checklist' },
    h('div', { class: 'section-head' },
      h('h2', { id: 'h-checklist' }, title),
      h('a', { href: csv, download: 'checklist.csv', class: 'button' }, t('csv_export'))),
    h('p', {}, `${t('cl_since')} ${report.since} · ${t('cl_visits')} ${report.areas.reduce((n, a) => n + a.visits, 0)}`),
    report.areas.length ? h('div', { class: 'chart' }, canvas) : h('p', {}, t('empty')),
    table(title, [t('area'), t('cl_item'), t('cl_type_label'), t('cl_answered'), t('cl_result')], rows));
  return { section, draw: () => (report.areas.length ? chart(canvas, report.areas) : null) };
}

/** One editable row of the editor; `retired` rows are kept aside until the save. */
function itemRow(item, index, count, redraw, state) {
  const field = (name, input) => h('td', { dataset: { label: t(`cl_${name}`) } }, input);
  const label = h('input', { value: item.label, 'aria-label': `${t('cl_label')} ${index + 1}`, class: 'cl-label',
    oninput: (e) => { item.label = e.target.value; } });
  const key = item.isNew
    ? h('input', { value: item.key, 'aria-label': `${t('cl_key')} ${index + 1}`, class: 'cl-key',
      oninput: (e) => { item.key = e.target.value; e.target.closest('tr').dataset.key = item.key; } })
    : h('code', {}, item.key);
  const type = h('select', { 'aria-label': `${t('cl_type_label')} ${index + 1}`, class: 'cl-type', disabled: !item.isNew,
    onchange: (e) => { item.type = e.target.value; redraw(); } },
  TYPES.map((x) => h('option', { value: x, selected: x === item.type }, tr('cl_type', x))));
  const required = h('input', { type: 'checkbox', checked: item.required, 'aria-label': `${t('cl_required')} ${index + 1}`,
    onchange: (e) => { item.required = e.target.checked; } });
  const choices = item.type === 'choice'
    ? h('input', { value: (item.choices ?? []).join('、'), 'aria-label': `${t('cl_choices')} ${index + 1}`, class: 'cl-choices',
      oninput: (e) => { item.choices = e.target.value.split(/[、,，;；]/).map((s) => s.trim()).filter(Boolean); } })
    : '';
  const move = (d) => () => { const [x] = state.items.splice(index, 1); state.items.splice(index + d, 0, x); redraw(); };
  const actions = h('td', { class: 'cl-actions' },
    h('button', { type: 'button', disabled: index === 0, onclick: move(-1), 'aria-label': `${t('cl_up')} ${item.label}` }, '↑'),
    h('button', { type: 'button', disabled: index === count - 1, onclick: move(1), 'aria-label': `${t('cl_down')} ${item.label}` }, '↓'),
    h('button', { type: 'button', class: 'cl-retire', onclick: () => { state.items.splice(index, 1); redraw(); } }, t('cl_retire')));
  return h('tr', { dataset: { key: item.key } }, field('key', key), field('label', label), field('type_label', type),
    field('required', required), field('choices', choices), actions);
}

/** The item as the API wants it (the editor's own marks left out). */
function wire(item) {
  const out = { key: item.key.trim(), label: item.label.trim(), type: item.type, required: !!item.required };
  for (const f of ['unit', 'min', 'max']) if (item[f] !== undefined && item.type === 'number') out[f] = item[f];
  if (item.type === 'choice') out.choices = item.choices ?? [];
  return out;
}

/** #/checklists: pick a template, edit its items, save a new version (admins only). */
export async function checklistsView(main, params) {
  const { templates } = await api.get('/api/v1/checklists');
  const chosen = templates.find((x) => x.id === params.get('id')) ?? templates[0];
  if (!chosen) return fill(main, h('h1', {}, t('nav_checklists')), h('p', {}, t('empty')));
  // The editor's rows: template items plus UI-only fields (`isNew`); `wire()` makes them items again.
  /** @type {{ items: Array<Record<string, any>> }} */
  const state = { items: chosen.items.map((i) => ({ ...i })) };
  const status = h('p', { class: 'status', role: 'status', id: 'cl-status' });
  const body = h('tbody');
  const redraw = () => fill(body, state.items.map((item, i) => itemRow(item, i, state.items.length, redraw, state)));
  const picker = h('select', { id: 'cl-template', onchange: (e) => { location.hash = `#/checklists?id=${encodeURIComponent(e.target.value)}`; } },
    templates.map((x) => h('option', { value: x.id, selected: x.id === chosen.id }, `${x.name} (${x.id})`)));
  const add = h('button', { type: 'button', id: 'cl-add', onclick: () => {
    state.items.push({ key: '', label: '', type: 'bool', required: false, isNew: true });
    redraw();
    body.querySelector('tr:last-child .cl-key')?.focus();
  } }, t('cl_add'));
  const save = h('button', { type: 'button', id: 'cl-save', onclick: async () => {
    status.textContent = '';
    status.classList.remove('error');
    try {
      const saved = await api.put(`/api/v1/checklists/${encodeURIComponent(chosen.id)}`,
        { id: chosen.id, name: chosen.name, active: chosen.active, items: state.items.map(wire) });
      status.textContent = `${t('cl_saved')} v${saved.version}`;
      state.items = saved.items.map((i) => ({ ...i }));
      version.textContent = `v${saved.version}`;
      redraw();
    } catch (err) {
      status.classList.add('error');
      status.textContent = `${t('error')}: ${err.message}`;
    }
  } }, t('cl_save'));
  const version = h('span', { id: 'cl-version' }, `v${chosen.version}`);
  const headers = ['key', 'label', 'type_label', 'required', 'choices', 'actions'].map((x) => h('th', { scope: 'col' }, t(`cl_${x}`)));
  fill(main, h('h1', {}, t('nav_checklists')),
    h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: 'cl-template' }, t('cl_template')), picker), version),
    h('p', {}, t('cl_hint')),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('nav_checklists') },
      h('table', { id: 'cl-items' }, h('caption', {}, chosen.name), h('thead', {}, h('tr', {}, headers)), body)),
    h('div', { class: 'tools' }, add, save), status);
  redraw();
  return () => {};
}
