// Devices in the supervisor's area, with revoke: the device's tokens stop working at once.

import * as api from './api.js';
import { h, fill, table } from './dom.js';
import { t, when } from './i18n.js';
import { announce, userName } from './state.js';

export async function devicesView(main) {
  async function render() {
    const { devices } = await api.get('/api/v1/devices');
    const revoke = (d) => h('button', {
      type: 'button', class: 'danger', 'aria-label': `${t('revoke')} ${d.name ?? d.id}`,
      onclick: async () => {
        if (!window.confirm(t('confirm_revoke'))) return;
        await api.post(`/api/v1/devices/${encodeURIComponent(d.id)}/revoke`);
        announce(`${t('revoked')}: ${d.name ?? d.id}`);
        await render();
      },
    }, t('revoke'));
    fill(main, h('h1', {}, t('devices_title')),
      table(t('devices_title'), [t('user'), t('device_name'), t('device'), t('last_seen'), t('status'), t('actions')],
        devices.map((d) => [userName(d.user_id), d.name ?? '—', d.id, when(d.last_seen_at),
          d.revoked_at ? `${t('revoked')} ${when(d.revoked_at)}` : t('active'), d.revoked_at ? '' : revoke(d)])));
  }
  await render();
  return () => {};
}
