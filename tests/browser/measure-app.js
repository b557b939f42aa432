// Measures the field app on a phone-sized screen with Chromium's CPU slowed 4x (CDP
// Emulation.setCPUThrottlingRate): the app shell loading offline, a 2,000-household grid listed
// and filtered, and the shell's size gzipped. A measurement, not a test: it prints figures for
// docs/benchmarks.md.  Run after `cargo build -p fieldvisit-server --bin fieldvisit`:
//   node tests/browser/measure-app.js

import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { startServer, launchChromium, Api, makeOrg, at, PASSWORD } from './server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.FIELDVISIT_BIN ?? join(root, 'target/debug/fieldvisit');
const HOUSEHOLDS = 2000;
const RUNS = 7;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs) => `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;

function shellSize() {
  const files = ['index.html', 'style.css', 'manifest.webmanifest', 'icon.svg', 'sw.js', ...readdirSync(join(root, 'app/js')).map((f) => `js/${f}`)]
    .map((f) => join(root, 'app', f));
  files.push(join(root, 'dashboard/js/dom.js'));
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const b = readFileSync(f);
    raw += b.length;
    gz += gzipSync(b, { level: 6 }).length;
  }
  return { files: files.length, raw, gz };
}

const server = await startServer(binary);
const browser = await launchChromium();
try {
  const api = new Api(server.base);
  const org = await makeOrg(api);
  const volunteer = await api.token('volunteer_a', PASSWORD, randomUUID());
  const streets = ['幸福路', '建设街', '胜利巷', '和平路', '解放街'];
  const homes = Array.from({ length: HOUSEHOLDS }, (_, i) => ({
    id: randomUUID(), area_id: org.grid, address: `西城区${streets[i % 5]}${Math.floor(i / 5) + 1}号`, head_name: `住户${i + 1}`,
    heating: i % 7 ? 'central' : 'coal', tags: i % 11 ? [] : ['elderly_alone'], base_version: 0, updated_at: at(-600),
  }));
  for (let i = 0; i < homes.length; i += 1000) await api.push(volunteer, { households: homes.slice(i, i + 1000) });
  const visits = homes.filter((_, i) => i % 3 === 0).map((hh, i) => ({
    id: randomUUID(), household_id: hh.id, visited_at: at(-500 + (i % 400)), indoor_temp_c: 18 + (i % 5), checklist: { radiators_warm: true },
  }));
  await api.push(volunteer, { visits });

  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  await page.goto(`${server.base}/app/`);
  await page.getByLabel('用户名').fill('volunteer_a');
  await page.getByLabel('密码').fill(PASSWORD);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByText(`显示 60 / ${HOUSEHOLDS} 户`).waitFor({ timeout: 60_000 });
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForFunction(() => Boolean(navigator.serviceWorker.controller));

  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  await context.setOffline(true);

  const ready = [];
  const dcl = [];
  for (let i = 0; i < RUNS; i++) {
    await page.reload();
    await page.waitForFunction(() => performance.getEntriesByName('fv-ready').length > 0);
    const [r, d] = await page.evaluate(() => [performance.getEntriesByName('fv-ready')[0].startTime, performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd]);
    ready.push(r);
    dcl.push(d);
  }

  // Cold: straight after a reload, the first listing reads IndexedDB (the 'ready' figure above
  // includes it too); then back and forth between screens, from what the app keeps in memory.
  const cold = [];
  for (let i = 0; i < RUNS; i++) {
    await page.reload();
    await page.waitForFunction(() => performance.getEntriesByName('fv-ready').length > 0);
    cold.push(await page.evaluate(() => performance.getEntriesByName('fv-route').at(-1).duration));
  }
  const listing = [];
  for (let i = 0; i < RUNS; i++) {
    await page.evaluate(() => { location.hash = '#/mine'; });
    await page.getByRole('heading', { name: '我上报的问题' }).waitFor();
    await page.evaluate(() => performance.clearMeasures('fv-route'));
    await page.evaluate(() => { location.hash = '#/'; });
    await page.waitForFunction(() => document.querySelector('#households') && performance.getEntriesByName('fv-route').length > 0);
    listing.push(await page.evaluate(() => performance.getEntriesByName('fv-route').at(-1).duration));
  }

  const filtering = [];
  for (let i = 0; i < RUNS; i++) {
    for (const q of ['幸福', '幸福路12', '住户1999', '没有这户', '']) {
      filtering.push(await page.evaluate((query) => {
        const input = document.getElementById('search');
        const start = performance.now();
        input.value = query;
        input.dispatchEvent(new Event('input'));
        document.body.getBoundingClientRect(); // style and layout of the new list count too
        return performance.now() - start;
      }, q));
    }
  }

  const size = shellSize();
  console.log(`field app, ${HOUSEHOLDS} households (${visits.length} visited), 360x740, CPU throttled 4x, offline`);
  console.log(`  shell load offline, DOMContentLoaded:         ${fmt(dcl)}`);
  console.log(`  shell load offline, households listed (ready): ${fmt(ready)}`);
  console.log(`  list the grid, first after load (IndexedDB):  ${fmt(cold)}`);
  console.log(`  list the grid, back from another screen:       ${fmt(listing)}`);
  console.log(`  filter by search (${filtering.length} keystrokes):         ${fmt(filtering)}`);
  console.log(`  app shell: ${size.files} files, ${(size.raw / 1024).toFixed(1)} KB, ${(size.gz / 1024).toFixed(1)} KB gzip`);
} finally {
  await browser.close();
  await server.stop();
}
