// The admin's alert channel page in headless Chromium: add a DingTalk robot, send a test message
// (a local receiver checks it arrives signed), narrow its filter, delete it; no token or raw code
// shows on the page. Screenshots go to target/browser-artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchChromium, Api, makeOrg, ADMIN_PASSWORD } from './server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.FIELDVISIT_BIN ?? join(root, 'target/debug/fieldvisit');
const artifacts = join(root, 'target/browser-artifacts');
const SECRET = 'SECbrowser-secret';
const TOKEN = 'browser-robot-token';

let server;
let browser;
let robot;
const received = [];
const problems = [];

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  // A DingTalk robot: records each request and answers errcode 0.
  robot = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ url: new URL(req.url, 'http://x'), body: JSON.parse(body) });
      res.setHeader('content-type', 'application/json');
      res.end('{"errcode":0,"errmsg":"ok"}');
    });
  });
  await new Promise((r) => robot.listen(0, '127.0.0.1', r));
  server = await startServer(binary);
  await makeOrg(new Api(server.base));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  robot?.close();
});

test('an admin adds a robot, tests it, narrows its filter and deletes it', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(server.base + '/');
  await page.getByLabel('用户名').fill('admin');
  await page.getByLabel('密码').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('heading', { level: 1, name: '超时看板' }).waitFor();

  await page.getByRole('link', { name: '告警通道' }).click();
  await page.getByRole('heading', { level: 1, name: '告警通道' }).waitFor();
  await page.getByText('还没有告警通道。').waitFor();
  await page.getByRole('button', { name: '添加通道' }).click();
  await page.getByLabel('名称').fill('县值班钉钉群');
  await page.getByLabel('类型').selectOption({ label: '钉钉群机器人' });
  await page.getByLabel('区域').selectOption({ label: '城关镇' });
  const port = robot.address().port;
  await page.getByLabel('机器人地址').fill(`http://127.0.0.1:${port}/robot/send?access_token=${TOKEN}`);
  await page.getByLabel('加签密钥').fill(SECRET);
  await page.getByLabel('超时', { exact: true }).check();
  await page.getByRole('button', { name: '保存' }).click();
  const row = page.locator('tr', { hasText: '县值班钉钉群' });
  await row.waitFor();
  assert.match(await row.innerText(), /钉钉群机器人[\s\S]*城关镇[\s\S]*全部队伍 · 超时[\s\S]*启用/);
  await page.screenshot({ path: join(artifacts, 'channels.png'), fullPage: true });

  await row.getByRole('button', { name: /发送测试/ }).click();
  await page.getByText('测试消息已送达: 县值班钉钉群').waitFor();
  assert.equal(received.length, 1);
  const [hit] = received;
  const ts = hit.url.searchParams.get('timestamp');
  const sign = createHmac('sha256', SECRET).update(`${ts}\n${SECRET}`).digest('base64');
  assert.equal(hit.url.searchParams.get('sign'), sign, 'DingTalk signature');
  assert.equal(hit.url.searchParams.get('access_token'), TOKEN);
  assert.equal(hit.body.msgtype, 'markdown');
  assert.match(hit.body.markdown.title, /通道测试/);

  await row.getByRole('button', { name: /编辑/ }).click();
  await page.getByLabel('最低升级级别').fill('2');
  await page.getByRole('button', { name: '保存' }).click();
  await page.locator('tr', { hasText: '最低升级级别 ≥ 2' }).waitFor();

  const text = await page.locator('main').innerText();
  assert.ok(!text.includes(TOKEN) && !text.includes(SECRET), 'neither token nor secret on the page');
  assert.deepEqual(text.match(/\b[a-z]+_[a-z]+\b/g), null, 'no raw codes on the page');

  page.once('dialog', (d) => d.accept());
  await page.locator('tr', { hasText: '县值班钉钉群' }).getByRole('button', { name: /删除/ }).click();
  await page.getByText('还没有告警通道。').waitFor();
  await context.close();
  assert.deepEqual(problems, []);
});
