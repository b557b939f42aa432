// The duty desk in headless Chromium: a dispatcher finishes a ticket from its page (the suggested
// team first, on site, resolved, feedback, the callback list, an unsatisfied callback that
// reopens it, a reopen), sees its photo; the coverage and temperature pages; and a walk over every
// page, in both languages, that fails on any raw code (`pipe_leak`) in the visible text.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, randomUUID } from 'node:crypto';
import { startServer, launchChromium, Api, makeOrg, at, ADMIN_PASSWORD, PASSWORD, eventually, openPage, logInDesk } from './server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.FIELDVISIT_BIN ?? join(root, 'target/debug/fieldvisit');
const artifacts = join(root, 'target/browser-artifacts');
const RAW_CODE = /[a-z]+_[a-z]+/;
// A 1×1 PNG: a real image, so the page can show it.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

let server;
let browser;
let api;
let org;
let company;
let volunteer;
const homes = { visited: randomUUID(), unvisited: randomUUID() };
const problems = [];

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  server = await startServer(binary);
  api = new Api(server.base);
  org = await makeOrg(api);
  const admin = await api.token('admin', ADMIN_PASSWORD, 'admin-script');
  // A county company for leaks and radiators: the team the dispatch form should suggest first.
  company = await api.create(admin, '/api/v1/teams', { name: '城关热力公司', area_id: org.town, categories: ['pipe_leak', 'radiator'] });
  volunteer = await api.token('volunteer_a', PASSWORD, 'phone-desk-volunteer');
  const household = (id, address) => ({ id, area_id: org.grid, address, head_name: '李奶奶', phone: '13900000000', heating: 'central', tags: [], base_version: 0, updated_at: at(-300) });
  await api.push(volunteer, {
    households: [household(homes.visited, '西城区和平街5号'), household(homes.unvisited, '西城区和平街7号')],
    visits: [{ id: randomUUID(), household_id: homes.visited, visited_at: at(-200), indoor_temp_c: 16.5, checklist: {}, notes: '室温偏低' }],
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const open = (viewport = { width: 1366, height: 900 }) => openPage(browser, viewport, problems);
const logIn = (page, username) => logInDesk(page, server.base, username);

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

/** A leak reported 20 minutes ago with a photo; returns its id. */
async function reportLeak() {
  const sha = createHash('sha256').update(PNG).digest('hex');
  const res = await fetch(`${server.base}/api/v1/blobs/${sha}`, {
    method: 'PUT', headers: { Authorization: `Bearer ${volunteer}`, 'Content-Type': 'image/png' }, body: PNG,
  });
  assert.ok(res.ok, `photo upload: ${res.status}`);
  const id = randomUUID();
  await api.push(volunteer, {
    tickets: [{ id, household_id: homes.visited, category: 'pipe_leak', severity: 'normal', description: '楼道暖气管漏水', reported_at: at(-20), photos: [sha] }],
  });
  return id;
}

test('a dispatcher finishes a ticket from its page, calls the resident back and reopens it', async () => {
  const id = await reportLeak();
  const { context, page } = await open();
  await logIn(page, 'dispatcher_a');
  await page.goto(`${server.base}/#/ticket/${id}`);
  const status = page.locator('#facts dd[data-fact="status"]');
  const stage = page.locator('#facts dd[data-fact="stage"]');
  await stage.waitFor();
  assert.equal(await page.locator('#facts dd[data-fact="category"]').innerText(), '管道漏水', 'the category by its label');

  // The photo, fetched with the session.
  const img = page.locator('#photos img');
  await img.waitFor();
  await eventually(() => img.evaluate((el) => el.complete && el.naturalWidth === 1), 'the photo to load');

  // The dispatch form proposes the team whose categories and area fit, first and chosen.
  const groups = await page.locator('#dispatch optgroup').evaluateAll((gs) => gs.map((g) => [g.label, [...g.children].map((o) => o.textContent)]));
  assert.deepEqual(groups[0], ['建议派给', ['城关热力公司']], JSON.stringify(groups));
  assert.equal(await page.locator('#dispatch').inputValue(), company);

  await page.getByRole('button', { name: '提交分类' }).click();
  await eventually(async () => (await stage.innerText()) === '派单', 'stage dispatch');
  await page.getByRole('button', { name: '派给该队伍' }).click();
  await eventually(async () => (await stage.innerText()) === '到场', 'stage on_site');
  await page.getByRole('button', { name: '记录到场' }).click();
  await eventually(async () => (await stage.innerText()) === '办结', 'stage close');
  await page.locator('#resolved-note').fill('更换了阀门');
  await page.getByRole('button', { name: '记录已处理' }).click();
  await eventually(async () => (await page.locator('#timeline').innerText()).includes('更换了阀门'), 'the resolution');
  await page.locator('#feedback-satisfaction').selectOption('satisfied');
  await page.getByRole('button', { name: '记录反馈' }).click();
  await eventually(async () => (await status.innerText()) === '已办结', 'closed');
  assert.match(await page.locator('#timeline').innerText(), /群众反馈[\s\S]*群众满意度: 满意/);
  await shot(page, 'desk-ticket-closed');

  // The callback list has it, with the number to call.
  await page.getByRole('link', { name: '回访' }).click();
  const row = page.locator('#callbacks tr', { hasText: '西城区和平街5号' });
  await row.waitFor();
  assert.match(await row.innerText(), /13900000000[\s\S]*管道漏水[\s\S]*满意/);
  await shot(page, 'desk-callbacks');

  // The resident is not satisfied after all: the callback reopens the ticket (cycle 2).
  await row.getByRole('link').click();
  await page.locator('#callback-satisfaction').selectOption('unsatisfied');
  await page.locator('#callback-note').fill('暖气还是漏');
  await page.getByRole('button', { name: '记录回访' }).click();
  await eventually(async () => (await status.innerText()) === '办理中', 'reopened by the callback');
  assert.equal(await stage.innerText(), '派单');
  assert.match(await page.locator('#timeline').innerText(), /回访[\s\S]*群众满意度: 不满意[\s\S]*暖气还是漏/);
  assert.ok(await page.locator('table tr', { hasText: '派单' }).count() >= 2, 'a second cycle of stages');

  // Closed again, then reopened from the page.
  await page.getByRole('button', { name: '记录到场' }).click();
  await eventually(async () => (await stage.innerText()) === '办结', 'stage close again');
  await page.getByRole('button', { name: '记录已处理' }).click();
  await page.locator('#feedback-satisfaction').selectOption('satisfied');
  await page.getByRole('button', { name: '记录反馈' }).click();
  await eventually(async () => (await status.innerText()) === '已办结', 'closed again');
  await page.getByRole('button', { name: '重新打开工单' }).click();
  await eventually(async () => (await status.innerText()) === '办理中', 'reopened');
  assert.match(await page.locator('#timeline').innerText(), /重新打开/);
  await shot(page, 'desk-ticket-reopened');
  await context.close();
});

test('the coverage page lists every grid and the doors not visited', async () => {
  const { context, page } = await open();
  await logIn(page, 'supervisor_a');
  await page.getByRole('link', { name: '走访覆盖' }).click();
  await page.getByRole('heading', { level: 1, name: '走访覆盖' }).waitFor();
  const grid = page.locator('tr', { hasText: '西城网格' });
  await grid.waitFor();
  assert.deepEqual((await grid.locator('td').allInnerTexts()).slice(1), ['2', '1', '50%', '1']);
  await page.locator('#unvisited summary', { hasText: '西城网格' }).click();
  await page.locator('#unvisited li', { hasText: '西城区和平街7号 · 李奶奶' }).waitFor();
  assert.equal(await page.locator('#unvisited li', { hasText: '和平街5号' }).count(), 0, 'a visited door is not listed');
  // An older start date keeps the same answer; the address keeps the choice.
  await page.locator('#coverage-since').fill('2020-01-01');
  await page.getByRole('button', { name: '应用' }).click();
  await eventually(async () => page.url().includes('since=2020-01-01'), 'the since filter');
  await grid.waitFor();
  await shot(page, 'desk-coverage');
  await context.close();
});

test('the temperature page shows readings per area against the standard', async () => {
  const { context, page } = await open();
  await logIn(page, 'supervisor_a');
  await page.getByRole('link', { name: '室温情况' }).click();
  await page.getByRole('heading', { level: 1, name: '室温情况' }).waitFor();
  assert.match(await page.locator('#temp-standard').innerText(), /室温标准: \d+\.\d℃/);
  const row = page.locator('tbody tr').first();
  await row.waitFor();
  const cells = await row.locator('td').allInnerTexts();
  assert.equal(cells[1], '1', `one reading: ${cells}`);
  assert.equal(cells[3], '16.5℃', `the median: ${cells}`);
  assert.equal(cells[4], '1', `one household below the standard: ${cells}`);
  await page.locator('.chart canvas').waitFor();
  await shot(page, 'desk-temperature');
  await context.close();
});

test('no page shows a raw code, in Chinese or in English', async () => {
  const ticket = await reportLeak();
  const { context, page } = await open();
  await logIn(page, 'supervisor_a');
  const pages = ['#/board?overdue=false', `#/ticket/${ticket}`, '#/reports', '#/devices', '#/callbacks?pending=true', '#/coverage', '#/temperature', '#/duplicates'];
  // Every nav link is walked (a page added later without a place here fails).
  const nav = await page.locator('header nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  for (const href of nav) assert.ok(pages.some((p) => p.startsWith(href)), `${href} is walked`);
  for (const lang of ['zh-CN', 'en']) {
    await page.evaluate((l) => localStorage.setItem('fv.lang', l), lang);
    for (const p of pages) {
      await page.goto(`${server.base}/${p}`);
      await page.reload();
      await page.locator('main h1').waitFor();
      await eventually(async () => !(await page.locator('main').innerText()).includes(lang === 'en' ? 'Loading' : '加载中'), `${p} loaded`);
      const text = await page.locator('body').innerText();
      const options = (await page.locator('option, optgroup').evaluateAll((os) => os.map((o) => o.label || o.textContent))).join('\n');
      const found = `${text}\n${options}`.match(RAW_CODE);
      assert.equal(found, null, `${lang} ${p} shows ${found?.[0]}`);
    }
  }
  await context.close();
});

test('no console errors and no CSP violations on the desk pages', () => {
  assert.deepEqual(problems, []);
});
