// The dashboard in headless Chromium (Debian's chromium, driven by playwright-core): log in, push a
// batch through the API, watch the overdue ticket appear live, filter, open its timeline, classify
// and dispatch it, switch language; the same on a phone-sized screen. Screenshots go to
// target/browser-artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { startServer, launchChromium, Api, makeOrg, at, PASSWORD, eventually, openPage, logInDesk } from './server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.FIELDVISIT_BIN ?? join(root, 'target/debug/fieldvisit');
const artifacts = join(root, 'target/browser-artifacts');
const HAN = /[\u4e00-\u9fff]/;

let server;
let browser;
let api;
let org;
const problems = []; // console errors (a CSP violation shows here) and uncaught page errors

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  server = await startServer(binary);
  api = new Api(server.base);
  org = await makeOrg(api);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const open = (viewport) => openPage(browser, viewport, problems);
const logIn = (page, username) => logInDesk(page, server.base, username);

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

test('a dispatcher watches, filters, opens, classifies and dispatches an overdue ticket', async () => {
  const { context, page } = await open({ width: 1366, height: 768 });
  await logIn(page, 'dispatcher_a');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.match(await page.locator('header').innerText(), HAN, 'the header reads Chinese');
  await page.locator('#live-status', { hasText: '实时连接' }).waitFor();
  // The session lives in HttpOnly cookies, never in script-readable storage.
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + document.cookie);
  assert.doesNotMatch(stored, /fv_session|eyJ/, 'no token readable by scripts');

  // A phone pushes a batch: a household, a heating ticket reported 70 min ago (classify is 1 h, so it
  // is overdue at once) with a comment written on a phone whose clock runs 30 min slow, and a
  // pipes ticket that is overdue too.
  await page.evaluate(() => { window.notReloaded = true; });
  const volunteer = await api.token('volunteer_a', PASSWORD, 'phone-volunteer');
  const home = randomUUID();
  const heating = randomUUID();
  const pipes = randomUUID();
  await api.push(volunteer, {
    households: [{ id: home, area_id: org.grid, address: '西城区幸福路3号', head_name: '王大爷', heating: 'coal', tags: ['elderly_alone'], base_version: 0, updated_at: at(-100) }],
    tickets: [
      { id: heating, household_id: home, category: 'heating', severity: 'urgent', description: '室温16度，暖气片不热', reported_at: at(-100) },
      { id: pipes, household_id: home, category: 'pipes', severity: 'normal', description: '楼道水管滴水', reported_at: at(-95) },
    ],
    ticket_events: [{ id: randomUUID(), ticket_id: heating, type: 'comment', occurred_at: at(-90), note: '老人独居，优先处理' }],
  }, -30);

  const heatingCard = page.locator(`.ticket[data-ticket-id="${heating}"]`);
  await heatingCard.waitFor({ timeout: 15_000 });
  await page.locator(`.ticket[data-ticket-id="${pipes}"]`).waitFor();
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'appeared without a reload');
  assert.match(await heatingCard.getAttribute('class'), /state-overdue/);
  await heatingCard.locator('.badge', { hasText: '新告警' }).waitFor();
  assert.match(await heatingCard.locator('.countdown').innerText(), /^已超时 \d+/);
  assert.ok(await page.locator('aside .alerts li').count() >= 2, 'the alerts panel lists the new alerts');
  await shot(page, 'board-1366x768');

  // Filter by category: only the heating ticket stays.
  await page.getByLabel('类别').selectOption('heating');
  await page.getByRole('button', { name: '应用' }).click();
  await page.locator(`.ticket[data-ticket-id="${pipes}"]`).waitFor({ state: 'detached' });
  // The board is redrawn with the filter: the old cards may go before the new ones come.
  await heatingCard.waitFor();
  assert.equal(await page.locator('.ticket').count(), 1);
  assert.match(page.url(), /category=heating/);

  // Its page: the timeline shows raw vs corrected time and the sync delay.
  await heatingCard.getByRole('link').click();
  await page.getByRole('heading', { level: 2, name: '事件时间线' }).waitFor();
  const comment = page.locator('#timeline .event').first();
  assert.match(await comment.innerText(), /备注[\s\S]*校正时间[\s\S]*设备原始时间[\s\S]*同步延迟/);
  const times = await comment.locator('dd').allInnerTexts();
  assert.notEqual(times[0], times[1], 'corrected and raw device time differ for a slow phone clock');

  // Classify, then dispatch: the stage moves on each time.
  const stage = page.locator('#facts dd[data-fact="stage"]');
  assert.equal(await stage.innerText(), '分类');
  await page.locator('#classify').selectOption('heating');
  await page.getByRole('button', { name: '提交分类' }).click();
  await eventually(async () => (await stage.innerText()) === '派单', 'stage dispatch');
  await page.locator('#dispatch').selectOption(org.teams.heating);
  await page.getByRole('button', { name: '派给该队伍' }).click();
  await eventually(async () => (await stage.innerText()) === '到场', 'stage on_site');
  assert.match(await page.locator('#timeline').innerText(), /已分类[\s\S]*已派单/);
  await shot(page, 'ticket-1366x768');

  // Switch to English; the choice survives a reload.
  await page.getByRole('button', { name: 'Switch to English' }).click();
  await page.getByRole('heading', { level: 2, name: 'Event timeline' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.reload();
  await page.getByRole('heading', { level: 2, name: 'Event timeline' }).waitFor();
  assert.doesNotMatch(await page.locator('header nav').innerText(), HAN);
  await page.getByRole('link', { name: 'Reports' }).click();
  await page.locator('#compliance-area canvas').waitFor();
  await page.locator('#daily table').waitFor();
  await shot(page, 'reports-en-1366x768');
  await page.getByRole('button', { name: '中文' }).click();
  await page.getByRole('heading', { level: 1, name: '统计报表' }).waitFor();
  await context.close();
});

test('a supervisor on a phone sees the board, the reports and revokes a device', async () => {
  const { context, page } = await open({ width: 390, height: 844 });
  await logIn(page, 'supervisor_a');
  await page.locator('.ticket').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
  await shot(page, 'board-phone');
  await page.locator('.ticket .ticket-link').first().click();
  await page.getByRole('heading', { level: 2, name: '事件时间线' }).waitFor();
  await shot(page, 'ticket-phone');
  await page.getByRole('link', { name: '统计报表' }).click();
  await page.locator('#compliance-team canvas').waitFor();
  await shot(page, 'reports-phone');

  await page.getByRole('link', { name: '设备管理' }).click();
  const row = page.locator('tr', { hasText: 'phone-volunteer' });
  await row.waitFor();
  page.once('dialog', (d) => d.accept());
  await row.getByRole('button', { name: /吊销/ }).click();
  await page.locator('tr', { hasText: 'phone-volunteer' }).locator('td', { hasText: '已吊销' }).waitFor();
  await shot(page, 'devices-phone');
  await assert.rejects(api.token('volunteer_a', PASSWORD, 'phone-volunteer'), /403/, 'the revoked phone cannot log in');
  await context.close();
});

test('keyboard: log in and reach the filters without a mouse', async () => {
  const { context, page } = await open({ width: 1366, height: 768 });
  await page.goto(server.base + '/');
  await page.getByLabel('用户名').waitFor();
  await page.keyboard.type('dispatcher_a');
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: '超时看板' }).waitFor();
  // The heading is drawn before the view's data arrives; focus moves to it once the view is done.
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1', null, { timeout: 10_000 }).catch(() => {});
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'focus lands on the view heading');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'f-area_id');
  await context.close();
});

test('no console errors and no CSP violations on any page', () => {
  assert.deepEqual(problems, []);
});
