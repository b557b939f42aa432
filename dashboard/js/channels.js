// Alert channels for admins: the group robots (WeCom, DingTalk, Feishu) and webhooks that alerts
// go to, each with its filter; add, edit, delete and send a test message. The API never returns a
// channel's URL in full nor its secret, so editing leaves both as they are unless retyped.

import * as api from './api.js';
import { h, fill, table } from './dom.js';
import { t, tr } from './i18n.js';
import { announce, areaName, session, teamName } from './state.js';

const KINDS = ['wecom', 'dingtalk', 'feishu', 'webhook'];
const TYPES = ['due_soon', 'overdue', 'escalated', 'retracted'];

function field(id, label, input) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

function checks(name, legend, options, chosen) {
  return h('fieldset', { class: 'checks' }, h('legend', {}, legend),
    options.map(([value, label]) => h('div', { class: 'field check' },
      h('input', { type: 'checkbox', id: `ch-${name}-${value}`, name, value, checked: chosen.includes(value) }),
      h('label', { for: `ch-${name}-${value}` }, label))));
}

function summary(c) {
  const parts = [];
  parts.push(c.teams.length ? c.teams.map(teamName).join('、') : t('ch_all_teams'));
  parts.push(c.alert_types.length ? c.alert_types.map((x) => tr('alert', x)).join('、') : t('ch_all_types'));
  if (c.min_level > 0) parts.push(`${t('ch_min_level')} ≥ ${c.min_level}`);
  return parts.join(' · ');
}

/** The add/edit form; `c` is the channel being edited, or undefined for a new one. */
function channelForm(c, done) {
  const error = h('p', { class: 'error', role: 'alert' });
  const kind = h('select', { id: 'ch-kind', name: 'kind' },
    KINDS.map((k) => h('option', { value: k, selected: c?.kind === k }, tr('channel_kind', k))));
  const area = h('select', { id: 'ch-area', name: 'area_id' },
    [...session.areas.values()].map((a) => h('option', { value: a.id, selected: c?.area_id === a.id }, a.name)));
  const name = h('input', { id: 'ch-name', name: 'name', required: true, maxlength: 100, value: c?.name ?? '' });
  const url = h('input', { id: 'ch-url', name: 'url', type: 'url', required: !c, autocomplete: 'off',
    placeholder: c ? c.url : 'https://', spellcheck: 'false' });
  const secret = h('input', { id: 'ch-secret', name: 'secret', type: 'password', autocomplete: 'new-password',
    placeholder: c?.has_secret ? t('ch_secret_kept') : '' });
  const level = h('input', { id: 'ch-level', name: 'min_level', type: 'number', min: 0, max: 10, value: c?.min_level ?? 0 });
  const enabled = h('input', { type: 'checkbox', id: 'ch-enabled', name: 'enabled', checked: c ? c.enabled : true });
  const form = h('form', { class: 'card channel-form', 'aria-label': c ? t('ch_edit') : t('ch_add') },
    h('h2', {}, c ? `${t('ch_edit')}: ${c.name}` : t('ch_add')),
    field('ch-name', t('ch_name'), name),
    field('ch-kind', t('ch_kind'), kind),
    field('ch-area', t('area'), area),
    field('ch-url', c ? t('ch_url_new') : t('ch_url'), url),
    field('ch-secret', t('ch_secret'), secret),
    checks('teams', t('ch_teams'), [...session.teams.values()].map((x) => [x.id, x.name]), c?.teams ?? []),
    checks('alert_types', t('ch_types'), TYPES.map((x) => [x, tr('alert', x)]), c?.alert_types ?? []),
    field('ch-level', t('ch_min_level'), level),
    h('p', { class: 'hint' }, t('ch_level_hint')),
    h('div', { class: 'field check' }, enabled, h('label', { for: 'ch-enabled' }, t('ch_enabled'))),
    error,
    h('div', { class: 'ch-actions' },
      h('button', { type: 'submit' }, t('ch_save')),
      h('button', { type: 'button', class: 'secondary', onclick: () => done(false) }, t('ch_cancel'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const picked = (n) => [...form.querySelectorAll(`input[name="${n}"]:checked`)].map((i) => i.value);
    const body = {
      name: name.value, kind: kind.value, area_id: area.value, teams: picked('teams'),
      alert_types: picked('alert_types'), min_level: Number(level.value || 0), enabled: enabled.checked,
    };
    if (url.value) body.url = url.value;
    if (secret.value) body.secret = secret.value;
    try {
      if (c) await api.call('PATCH', `/api/v1/channels/${encodeURIComponent(c.id)}`, body);
      else await api.post('/api/v1/channels', { ...body, url: url.value });
      announce(`${t('ch_saved')}: ${body.name}`);
      done(true);
    } catch (err) {
      error.textContent = `${t('error')}: ${err.message}`;
    }
  });
  return form;
}

export async function channelsView(main) {
  const status = h('p', { class: 'channel-status', role: 'status' });
  const editor = h('div', {});
  async function render() {
    const { channels } = await api.get('/api/v1/channels');
    const actions = (c) => h('div', { class: 'ch-actions' },
      h('button', { type: 'button', class: 'secondary', 'aria-label': `${t('ch_edit')} ${c.name}`,
        onclick: () => fill(editor, channelForm(c, close)) }, t('ch_edit')),
      h('button', { type: 'button', class: 'secondary', 'aria-label': `${t('ch_test')} ${c.name}`,
        onclick: async () => {
          status.textContent = t('ch_testing');
          try {
            const res = await api.post(`/api/v1/channels/${encodeURIComponent(c.id)}/test`);
            status.textContent = res.delivered ? `${t('ch_test_ok')}: ${c.name}` : `${t('ch_test_failed')}: ${res.error}`;
          } catch (err) {
            status.textContent = `${t('ch_test_failed')}: ${err.message}`;
          }
        } }, t('ch_test')),
      h('button', { type: 'button', class: 'danger', 'aria-label': `${t('ch_delete')} ${c.name}`,
        onclick: async () => {
          if (!window.confirm(t('ch_confirm_delete'))) return;
          await api.call('DELETE', `/api/v1/channels/${encodeURIComponent(c.id)}`);
          announce(`${t('ch_deleted')}: ${c.name}`);
          await render();
        } }, t('ch_delete')));
    fill(main, h('h1', {}, t('channels_title')),
      h('p', { class: 'hint' }, t('ch_intro')),
      h('button', { type: 'button', id: 'ch-new', onclick: () => fill(editor, channelForm(undefined, close)) }, t('ch_add')),
      editor, status,
      channels.length
        ? table(t('channels_title'), [t('ch_name'), t('ch_kind'), t('area'), t('ch_url'), t('ch_filter'), t('status'), t('actions')],
          channels.map((c) => [c.name, tr('channel_kind', c.kind), areaName(c.area_id), c.url, summary(c),
            c.enabled ? t('ch_on') : t('ch_off'), actions(c)]))
        : h('p', {}, t('ch_none')));
  }
  async function close(changed) {
    fill(editor);
    if (changed) await render();
  }
  await render();
  return () => {};
}
