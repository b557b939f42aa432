// The volunteer's screens: the grid's households (search, unvisited first), one household, the
// visit form, "report a problem", a new household, and the problems they reported.

import { h, fill, uuid } from '../../ui/js/dom.js';
import { t, fmtTime } from './i18n.js';
import { all, get, getKv, tx } from './store.js';
import { save, nowRfc3339, generation } from './sync.js';
import { field, checkbox, select, photoPicker, ticketCard, label } from './ui.js';
import { flash } from './main.js';

const PAGE = 60;
const collator = new Intl.Collator('zh-CN', { numeric: true }); // one collator: localeCompare per pair is slow
let query = '';
let limit = PAGE;

/** Households with their search key and last visit (the server's `last_visited_at` where it sends
 *  one, else the latest visit on the phone), unvisited first, then longest since a visit. */
export function indexHouseholds(households, visits) {
  const ids = new Set(households.map((hh) => hh.id));
  const lastByHome = new Map();
  for (const v of visits) {
    const at = Date.parse(v.visited_at);
    if (!(lastByHome.get(v.household_id) >= at)) lastByHome.set(v.household_id, at);
  }
  const rows = households.map((hh) => {
    const server = hh.last_visited_at ? Date.parse(hh.last_visited_at) : NaN;
    const local = lastByHome.get(hh.id) ?? NaN;
    const last = Math.max(Number.isFinite(server) ? server : -Infinity, Number.isFinite(local) ? local : -Infinity);
    return {
      id: hh.id, address: hh.address, head_name: hh.head_name, tags: hh.tags ?? [],
      duplicate: ids.has(hh._duplicate_of), last: Number.isFinite(last) ? last : null, key: `${hh.address} ${hh.head_name} ${hh.phone ?? ''}`.toLowerCase(),
    };
  });
  rows.sort((a, b) => (a.last ?? -1) - (b.last ?? -1) || collator.compare(a.address, b.address));
  return rows;
}

export function filterHouseholds(rows, q) {
  const terms = q.toLowerCase().split(/\s+/).filter(Boolean);
  return terms.length ? rows.filter((r) => terms.every((x) => r.key.includes(x))) : rows;
}

function householdItem(hh) {
  const { last } = hh;
  return h('li', {}, h('a', { class: 'row', href: `#/h/${encodeURIComponent(hh.id)}` },
    h('strong', {}, hh.address),
    h('span', {}, hh.head_name, hh.tags?.length ? ` · ${hh.tags.map((x) => label('tag', x)).join('、')}` : ''),
    h('span', { class: last ? 'muted' : 'unvisited' }, last ? `${t('last_visited')} ${fmtTime(last)}` : t('never_visited')),
    hh.duplicate ? h('span', { class: 'tag duplicate' }, t('maybe_duplicate')) : null));
}

/** The server's `possible_duplicate` hint, while the other household is still on the phone (a merge
 *  removes one of the two, and the hint with it). */
async function duplicateNote(hh) {
  const other = hh._duplicate_of ? await get('households', hh._duplicate_of) : null;
  if (!other) return null;
  return h('p', { class: 'duplicate-note', role: 'note' }, t('duplicate_of', other.address, other.head_name), ' ',
    h('a', { href: `#/h/${encodeURIComponent(other.id)}` }, t('open_other')));
}

let indexed = { generation: -1, rows: [] };
/** The sorted households, read from IndexedDB again only after the data changed. */
async function householdRows() {
  if (indexed.generation !== generation) {
    const seen = generation;
    indexed = { generation: seen, rows: await storedRows() };
  }
  return indexed.rows;
}

/** The rows kept in the `list` store (one record instead of 2,000 households and their visits);
 *  rebuilt after any write to households or visits cleared it (store.js tx). */
async function storedRows() {
  const kept = await get('list', 'rows');
  if (kept) return kept.rows;
  return tx(['households', 'visits', 'list'], 'readwrite', async (s) => {
    const [households, visits] = await Promise.all([s.households.all(), s.visits.all()]);
    const rows = indexHouseholds(households, visits);
    await s.list.put({ id: 'rows', rows });
    return rows;
  });
}

export async function householdsView(el) {
  const rows = await householdRows();
  const list = h('ul', { class: 'list', id: 'households' });
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'quiet wide', onclick: () => { limit += PAGE; draw(); } }, t('show_more'));
  const search = h('input', { id: 'search', type: 'search', value: query, placeholder: t('search_hint'), autocomplete: 'off' });
  function draw() {
    const found = filterHouseholds(rows, query);
    const shown = found.slice(0, limit);
    fill(list, shown.map(householdItem));
    count.textContent = shown.length < found.length ? t('n_shown', shown.length, found.length) : t('n_households', found.length);
    more.hidden = shown.length >= found.length;
  }
  search.addEventListener('input', () => { query = search.value; limit = PAGE; draw(); });
  el.addEventListener('attached', () => {
    if (search.value !== query) {
      search.value = query;
      draw();
    }
  });
  draw();
  fill(el, h('h1', {}, t('households')), field(t('search'), search), count,
    rows.length ? list : h('p', {}, t('no_households')), more);
}

export async function householdView(el, id) {
  const hh = await get('households', id);
  if (!hh) return fill(el, h('p', {}, '—'), h('a', { class: 'back', href: '#/' }, t('cancel')));
  const [visits, tickets, events, policy, duplicate] = await Promise.all([all('visits'), all('tickets'), all('events'), getKv('policy'), duplicateNote(hh)]);
  const mine = visits.filter((v) => v.household_id === id).sort((a, b) => Date.parse(b.visited_at) - Date.parse(a.visited_at));
  fill(el,
    h('h1', {}, hh.address),
    duplicate,
    h('dl', { class: 'facts' },
      h('dt', {}, t('head')), h('dd', {}, hh.head_name),
      hh.phone ? [h('dt', {}, t('phone')), h('dd', {}, h('a', { href: `tel:${hh.phone}` }, hh.phone))] : null,
      h('dt', {}, t('heating')), h('dd', {}, t(`heating_${hh.heating}`)),
      hh.tags?.length ? [h('dt', {}, t('tags')), h('dd', {}, hh.tags.map((x) => label('tag', x)).join('、'))] : null),
    h('div', { class: 'actions big-actions' },
      h('a', { class: 'button big', role: 'button', href: `#/visit/${encodeURIComponent(id)}` }, t('record_visit')),
      h('a', { class: 'button big warn', role: 'button', href: `#/report/${encodeURIComponent(id)}` }, t('report_problem'))),
    h('a', { class: 'button quiet wide', href: `#/new/${encodeURIComponent(id)}` }, t('edit_household')),
    h('h2', {}, t('visits')),
    mine.length ? h('ul', { class: 'list' }, mine.map((v) => h('li', { class: 'row' },
      h('strong', {}, fmtTime(Date.parse(v.visited_at))),
      h('span', {}, `${t('indoor_temp')} ${v.indoor_temp_c ?? '—'}${t('indoor_temp_unit')}`),
      v._error ? h('span', { class: 'tag rejected' }, t('rejected')) : v._pending ? h('span', { class: 'tag pending' }, t('not_synced')) : null)))
      : h('p', { class: 'muted' }, t('never_visited')),
    tickets.filter((x) => x.household_id === id).map((x) => ticketCard(x, hh, events, policy)),
    h('a', { class: 'back', href: '#/' }, t('cancel')));
}

const DEFAULT_ITEMS = (hh) => [
  { key: 'radiators_warm', type: 'bool' },
  { key: 'pipes_valves_ok', type: 'bool' },
  hh.heating === 'coal' ? { key: 'stove_flue_safe', type: 'bool' } : null,
  { key: 'co_alarm', type: 'bool' },
  { key: 'concerns', type: 'text' },
].filter(Boolean);

/** The county's template where the server sent one (contract 1.1), else the default items. */
async function checklistTemplate() {
  const templates = Object.values((await getKv('checklists')) ?? {}).filter((x) => x.active !== false && x.items?.length);
  return templates.sort((a, b) => b.version - a.version)[0] ?? null;
}

function checklistInput(item, value) {
  if (item.type === 'bool') return checkbox(value);
  if (item.type === 'number') return h('input', { type: 'number', inputmode: 'decimal', step: 'any', min: item.min, max: item.max, value: value ?? '' });
  if (item.type === 'choice') return select([['', '—'], ...(item.choices ?? []).map((c) => [c, c])], value ?? '');
  return h('input', { type: 'text', value: value ?? '' });
}

function readChecklistInput(item, input) {
  if (item.type === 'bool') return input.checked;
  if (item.type === 'number') return input.value === '' ? undefined : Number(input.value);
  return input.value.trim() || undefined;
}

/** Asks for the position once; resolves null when refused, unavailable or slow. */
function position() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: Number(p.coords.latitude.toFixed(6)), lon: Number(p.coords.longitude.toFixed(6)) }),
      () => resolve(null), { timeout: 10_000, maximumAge: 300_000 });
  });
}

async function editable(id) {
  const entry = id ? await get('outbox', id) : null;
  return entry?.state === 'rejected' ? entry.record : null;
}

export async function visitForm(el, householdId, editId) {
  const hh = await get('households', householdId);
  if (!hh) return fill(el, h('p', {}, '—'));
  const old = await editable(editId);
  const template = await checklistTemplate();
  const items = template ? template.items : DEFAULT_ITEMS(hh);
  const temp = h('input', { id: 'indoor-temp', type: 'number', inputmode: 'decimal', step: '0.1', value: old?.indoor_temp_c ?? '' });
  const inputs = items.map((item) => [item, checklistInput(item, old?.checklist?.[item.key])]);
  const card = checkbox(old?.service_card_given);
  const notes = h('textarea', { rows: 3 }, old?.notes ?? '');
  const photos = [...(old?.photos ?? [])];
  const where = h('p', { class: 'muted' }, t('location_none'));
  let location = old?.location ?? null;
  position().then((p) => { if (p) { location = p; where.textContent = t('location_got'); } });
  const form = h('form', { class: 'card' },
    h('h1', {}, t('record_visit')), h('p', {}, hh.address, ' · ', hh.head_name),
    field(`${t('indoor_temp')}（${t('indoor_temp_unit')}）`, temp),
    h('fieldset', {}, h('legend', {}, t('checklist')),
      inputs.map(([item, input]) => field(item.label ?? t(item.key), input))),
    field(t('service_card_given'), card),
    field(t('notes'), notes),
    photoPicker(photos),
    where,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'big' }, t('save')), h('a', { href: `#/h/${encodeURIComponent(householdId)}` }, t('cancel'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const checklist = {};
    for (const [item, input] of inputs) {
      const v = readChecklistInput(item, input);
      if (v !== undefined) checklist[item.key] = v;
    }
    const visit = {
      id: old?.id ?? uuid(),
      household_id: householdId,
      visited_at: old?.visited_at ?? nowRfc3339(),
      checklist,
      service_card_given: card.checked,
      ...(temp.value !== '' ? { indoor_temp_c: Number(temp.value) } : {}),
      ...(notes.value.trim() ? { notes: notes.value.trim() } : {}),
      ...(location ? { location } : {}),
      ...(photos.length ? { photos } : {}),
      ...(template ? { checklist_template: { id: template.id, version: template.version } } : {}),
    };
    await save('visit', visit);
    flash(t('saved'));
    location_(`#/h/${encodeURIComponent(householdId)}`);
  });
  fill(el, form);
}

const location_ = (hash) => { window.location.hash = hash; };

export const CATEGORIES = ['heating', 'pipes', 'stove', 'gas', 'electric', 'other'];

export async function ticketForm(el, householdId, editId) {
  const hh = await get('households', householdId);
  if (!hh) return fill(el, h('p', {}, '—'));
  const old = await editable(editId);
  const teamCats = Object.values((await getKv('teams')) ?? {}).flatMap((x) => x.categories ?? []);
  const cats = [...new Set([...CATEGORIES, ...teamCats])];
  const category = select(cats.map((c) => [c, label('cat', c)]), old?.category ?? 'heating');
  const severity = select(['normal', 'urgent', 'critical'].map((s) => [s, t(`sev_${s}`)]), old?.severity ?? 'normal');
  const description = h('textarea', { rows: 3, required: true }, old?.description ?? '');
  const spot = checkbox(old?.resolved_on_the_spot);
  const photos = [...(old?.photos ?? [])];
  const form = h('form', { class: 'card' },
    h('h1', {}, t('report_problem')), h('p', {}, hh.address, ' · ', hh.head_name),
    field(t('category'), category),
    field(t('severity'), severity),
    field(t('description'), description),
    photoPicker(photos),
    field(t('resolved_on_spot'), spot),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'big' }, t('save')), h('a', { href: `#/h/${encodeURIComponent(householdId)}` }, t('cancel'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    await save('ticket', {
      id: old?.id ?? uuid(),
      household_id: householdId,
      category: category.value,
      severity: severity.value,
      description: description.value.trim(),
      reported_at: old?.reported_at ?? nowRfc3339(),
      resolved_on_the_spot: spot.checked,
      ...(photos.length ? { photos } : {}),
    });
    flash(t('saved'));
    location_(`#/h/${encodeURIComponent(householdId)}`);
  });
  fill(el, form);
}

const HEATING = ['central', 'coal', 'gas', 'electric', 'other'];
const TAGS = ['elderly_alone', 'disabled', 'low_income', 'bedridden'];

/** A new household, a rejected one to correct, or (editId of a household on the phone) an edit
 *  sent with the version it started from, so the server can merge it with others' edits. */
export async function newHouseholdForm(el, user, editId) {
  const entry = editId ? await get('outbox', editId) : null;
  const old = entry?.record ?? (editId ? await get('households', editId) : null);
  const baseVersion = entry ? entry.record.base_version ?? 0 : old?.version ?? 0;
  const grids = Object.values((await getKv('areas')) ?? {}).filter((a) => a.kind === 'grid');
  const area = grids.length
    ? select(grids.map((a) => [a.id, a.name]), old?.area_id ?? grids.find((a) => a.id === user.area_id)?.id)
    : select([[user.area_id, '—']], user.area_id);
  const address = h('input', { required: true, value: old?.address ?? '' });
  const head = h('input', { required: true, value: old?.head_name ?? '' });
  const phone = h('input', { type: 'tel', inputmode: 'tel', value: old?.phone ?? '' });
  const heating = select(HEATING.map((x) => [x, t(`heating_${x}`)]), old?.heating ?? 'central');
  const tags = TAGS.map((x) => [x, checkbox(old?.tags?.includes(x))]);
  const form = h('form', { class: 'card' },
    h('h1', {}, t(old ? 'edit_household' : 'new_household')),
    field(t('area'), area), field(t('address'), address), field(t('head_name'), head), field(t('phone'), phone),
    field(t('heating'), heating),
    h('fieldset', {}, h('legend', {}, t('tags')), tags.map(([x, box]) => field(t(`tag_${x}`), box))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'big' }, t('save')), h('a', { href: '#/' }, t('cancel'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = old?.id ?? uuid();
    await save('household', {
      id,
      area_id: area.value,
      address: address.value.trim(),
      head_name: head.value.trim(),
      ...(phone.value.trim() ? { phone: phone.value.trim() } : {}),
      heating: heating.value,
      tags: tags.filter(([, box]) => box.checked).map(([x]) => x),
      base_version: baseVersion,
      updated_at: nowRfc3339(),
    });
    flash(t('saved'));
    location_(`#/h/${encodeURIComponent(id)}`);
  });
  fill(el, form);
}

/** The problems this volunteer reported, with their live stage and due time. */
export async function mineView(el) {
  const [tickets, visits, households, events, policy] = await Promise.all([all('tickets'), all('visits'), all('households'), all('events'), getKv('policy')]);
  const myVisits = new Set(visits.filter((v) => v._mine).map((v) => v.id));
  const homes = new Map(households.map((x) => [x.id, x]));
  const mine = tickets.filter((x) => x._mine || myVisits.has(x.visit_id))
    .sort((a, b) => Date.parse(b.reported_at) - Date.parse(a.reported_at));
  fill(el, h('h1', {}, t('my_tickets')),
    mine.length ? mine.map((x) => ticketCard(x, homes.get(x.household_id), events, policy)) : h('p', {}, t('no_tickets')));
}
