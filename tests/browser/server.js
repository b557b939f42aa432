// Starts the real `fieldvisit` binary on a temporary SQLite database and a free port, and talks to
// its API with bearer tokens (as phones and admin scripts do) to set up an organisation.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';

export const ADMIN_PASSWORD = 'browser-admin-password';
export const PASSWORD = 'browser-user-pass-1';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Debian's Chromium, headless, as every browser test launches it. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** `env` adds settings (e.g. a short token life) to the server's environment. */
export async function startServer(binary, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fieldvisit-browser-'));
  const port = await freePort();
  const log = [];
  const child = spawn(binary, ['serve'], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: `sqlite://${join(dir, 'fieldvisit.db')}`,
      FIELDVISIT_DATA_DIR: dir,
      FIELDVISIT_BIND: `127.0.0.1:${port}`,
      FIELDVISIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      FIELDVISIT_ROOT_AREA_NAME: '示范县',
      RUST_LOG: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => log.push(String(d)));
  child.stderr.on('data', (d) => log.push(String(d)));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`fieldvisit exited: ${log.join('')}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch { /* not listening yet */ }
    if (i > 300) throw new Error(`fieldvisit did not become ready: ${log.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export class Api {
  constructor(base) {
    this.base = base;
  }

  async call(method, path, token, body) {
    const res = await fetch(this.base + path, {
      method,
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = res.status === 204 ? null : await res.json();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(data)}`);
    return data;
  }

  /** Logs in on the device named `deviceName`; its id is a UUID made from the name (ids are UUIDs). */
  async token(username, password, deviceName) {
    const h = createHash('sha1').update(deviceName).digest('hex');
    const deviceId = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
    const res = await this.call('POST', '/api/v1/auth/login', null,
      { username, password, device_id: deviceId, device_name: deviceName });
    return res.access_token;
  }

  create(token, path, body) {
    return this.call('POST', path, token, body).then((r) => r.id);
  }

  /** A push whose records must all be applied; `deviceSkewMin` sets the phone clock that many minutes off. */
  async push(token, records, deviceSkewMin = 0) {
    const res = await this.call('POST', '/api/v1/sync/push', token, {
      protocol_version: 1, batch_id: randomUUID(), device_time: at(deviceSkewMin), ...records,
    });
    const bad = res.results.filter((r) => r.status !== 'applied');
    if (bad.length) throw new Error(`push not applied: ${JSON.stringify(bad)}`);
    return res;
  }
}

/** RFC 3339 time `minutes` from now, with the +08:00 offset phones send. */
export function at(minutes) {
  const d = new Date(Date.now() + minutes * 60_000 + 8 * 3_600_000);
  return d.toISOString().replace('Z', '+08:00');
}

/** A county town with a grid, two teams and a volunteer, dispatcher and supervisor in the town. */
export async function makeOrg(api) {
  const admin = await api.token('admin', ADMIN_PASSWORD, 'admin-script');
  const { areas } = await api.call('GET', '/api/v1/areas', admin);
  const root = areas[0].id;
  const town = await api.create(admin, '/api/v1/areas', { parent_id: root, kind: 'town', name: '城关镇' });
  const grid = await api.create(admin, '/api/v1/areas', { parent_id: town, kind: 'grid', name: '西城网格' });
  const heating = await api.create(admin, '/api/v1/teams', { name: '西城供热站', area_id: town, categories: ['heating'] });
  const pipes = await api.create(admin, '/api/v1/teams', { name: '管网维修队', area_id: town, categories: ['pipes'] });
  for (const [username, role, display] of [
    ['volunteer_a', 'volunteer', '志愿者小李'], ['dispatcher_a', 'dispatcher', '调度员王芳'], ['supervisor_a', 'supervisor', '督办员张伟'],
  ]) {
    await api.create(admin, '/api/v1/users', { username, password: PASSWORD, display_name: display, role, area_id: town });
  }
  return { town, grid, teams: { heating, pipes } };
}

/** Polls `check` until it holds (pages re-render, so element handles would go stale); 15 s is
 * what the field app's service worker and sync need on a busy CI machine. */
export async function eventually(check, what, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A page in a fresh zh-CN context whose console errors and page errors go to `problems`. */
export async function openPage(browser, viewport, problems) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${viewport.width}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${viewport.width}: ${e.message}`));
  return { context, page };
}

/** Logs in to the dashboard at `base` and waits for the board. */
export async function logInDesk(page, base, username) {
  await page.goto(base + '/');
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(PASSWORD);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('heading', { level: 1, name: '超时看板' }).waitFor();
}
