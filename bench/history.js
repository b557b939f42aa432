// A county season through the real push path, then what it costs to read it back.
//   node bench/history.js --url http://127.0.0.1:8080 --visits 1000000 --tickets 100000 --out FILE
// Needs FIELDVISIT_ADMIN_PASSWORD (the server's admin). Builds a county with one grid of 2,000
// households; a volunteer of that grid pushes visits (readings 12–24 °C), oldest first; the
// county's dispatcher pushes tickets with their events. The history fills the season's first 90 days; the
// last 30 (the first pull's window) hold a month as a grid has one: 4 visits per household and a
// ticket per 10 visits. Half the tickets are closed on the spot, the others handled through all five
// events, except one recent ticket in ten left open after classification. Measured, each while
// the history stands at that size:
// - at 20,000 visits and at the full history: one incremental pull page (the grid's volunteer, a
//   cursor at the end, then 1,000 new visits pushed and pulled in one page), 9 times;
// - at the full history: a new phone's first pull of the grid, every page, time and bytes on the
//   wire with gzip, and each report's p50 over 15 requests by a county supervisor (the checklist
//   report's visits over the season are recorded too: every visit pushed names the template).
// Prints progress on stderr and writes one JSON object to --out.
'use strict';
const { randomUUID } = require('node:crypto');
const { parseArgs } = require('node:util');
const http = require('node:http');
const zlib = require('node:zlib');
const fs = require('node:fs');

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    visits: { type: 'string', default: '1000000' },
    tickets: { type: 'string', default: '100000' },
    small: { type: 'string', default: '20000' },
    households: { type: 'string', default: '2000' },
    out: { type: 'string' },
    // A shell command run once the season is loaded, before the full-history figures: what an
    // operator (or autovacuum, given time) does after a bulk load; its time is recorded.
    settle: { type: 'string' },
    // The server's pid on this machine: its resident memory is read before and after the reports
    // (the compliance report's in-memory ticket index is built by its first request).
    pid: { type: 'string' },
  },
});
const base = opt.url.replace(/\/$/, '');
const N_VISITS = Number(opt.visits);
const N_TICKETS = Number(opt.tickets);
const N_SMALL = Number(opt.small);
const N_HOMES = Number(opt.households);
const PASSWORD = 'bench-history-password';
const DAY = 86_400_000;
const NOW = Date.now();
const SEASON_START = NOW - 120 * DAY;
const BATCH = 1000;
const PARALLEL = 4;
const TEMPLATE = 'winter_visit'; // the default checklist template, made on first start

const iso = (ms) => new Date(ms).toISOString();
const log = (...a) => console.error(`[history ${((Date.now() - NOW) / 1000).toFixed(0)} s]`, ...a);

// Plain HTTP with keep-alive, gzip asked for; returns status, parsed body and bytes on the wire.
// A kept-alive connection the server closes as a request leaves is reset: that request is sent
// again on a new one (pushes are idempotent by batch id).
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
async function request(method, path, token, body) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(method, path, token, body);
    } catch (e) {
      if (attempt >= 3 || !['ECONNRESET', 'EPIPE'].includes(e.code)) throw e;
    }
  }
}
function once(method, path, token, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers = { 'accept-encoding': 'gzip' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (data) Object.assign(headers, { 'content-type': 'application/json', 'content-length': data.length });
    const req = http.request(`${base}${path}`, { method, headers, agent }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(parts);
        const text = (res.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { json = text; }
        resolve({ status: res.statusCode, body: json, wire: raw.length, plain: text.length });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function ok(method, path, token, body) {
  const r = await request(method, path, token, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  return r.body;
}

async function login(username, password) {
  const b = await ok('POST', '/api/v1/auth/login', null, { username, password, device_id: randomUUID() });
  return b.access_token;
}

// A push as `who` (re-logged in when its token ends); every record must be applied.
async function push(who, records) {
  const body = { protocol_version: 1, batch_id: randomUUID(), device_time: iso(Date.now()), ...records };
  for (let attempt = 0; ; attempt++) {
    const r = await request('POST', '/api/v1/sync/push', who.token, body);
    if (r.status === 401 && attempt < 3) { who.token = await login(who.username, PASSWORD); continue; }
    if ((r.status === 503 || r.status === 429) && attempt < 20) { await new Promise((s) => setTimeout(s, 200)); continue; }
    if (r.status !== 200) throw new Error(`push: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
    const s = r.body.summary;
    const count = Object.values(records).reduce((n, a) => n + a.length, 0);
    if (s.applied + s.duplicate !== count) throw new Error(`push applied ${JSON.stringify(s)} of ${count}: ${JSON.stringify(r.body.results?.find((x) => x.status !== 'applied'))}`);
    return;
  }
}

// Runs `jobs` (functions returning promises) PARALLEL at a time.
async function pool(jobs) {
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < jobs.length) await jobs[next++]();
  }));
}

const p50 = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.ceil(0.5 * s.length) - 1]; };

async function main() {
  const admin = await login('admin', process.env.FIELDVISIT_ADMIN_PASSWORD);
  const root = (await ok('GET', '/api/v1/areas', admin)).areas[0];
  const area = async (parent, kind, name) => (await ok('POST', '/api/v1/areas', admin, { parent_id: parent, kind, name })).id;
  const town = await area(root.id, 'town', '城关镇');
  await area(root.id, 'town', '红城镇');
  const community = await area(town, 'community', '西城社区');
  const grid = await area(community, 'grid', '网格一');
  const team = (await ok('POST', '/api/v1/teams', admin, { name: '西城供热站', area_id: town, categories: ['heating', 'pipes'] })).id;
  const user = async (username, role, area_id) => {
    await ok('POST', '/api/v1/users', admin, { username, password: PASSWORD, display_name: username, role, area_id });
    return { username, token: await login(username, PASSWORD) };
  };
  const volunteer = await user('bench_volunteer', 'volunteer', grid);
  const dispatcher = await user('bench_dispatcher', 'dispatcher', root.id);
  const supervisor = await user('bench_supervisor', 'supervisor', root.id);

  const homes = Array.from({ length: N_HOMES }, () => randomUUID());
  await pool(Array.from({ length: Math.ceil(N_HOMES / BATCH) }, (_, b) => () => push(volunteer, {
    households: homes.slice(b * BATCH, (b + 1) * BATCH).map((id, i) => ({ id, area_id: grid,
      address: `${1 + ((b * BATCH + i) % 40)}号楼${1 + (i % 6)}单元${101 + (i % 20)}`, head_name: '住户', phone: '13800000000',
      heating: 'central', tags: [], base_version: 0, updated_at: iso(SEASON_START) })),
  })));
  log(`${N_HOMES} households`);

  // Item k of n happens at its place in the season: the last `recent` in the last 30 days (ending a
  // day early, so every event is in the past), the others evenly over the 90 days before.
  const placed = (k, n, recent) => (k < n - recent
    ? SEASON_START + Math.floor((k * 90 * DAY) / (n - recent))
    : NOW - 30 * DAY + Math.floor(((k - (n - recent)) * 29 * DAY) / recent));
  const RECENT_VISITS = Math.min(4 * N_HOMES, N_VISITS / 2);
  const RECENT_TICKETS = Math.min(Math.ceil(RECENT_VISITS / 10), N_TICKETS / 2);
  const visitAt = (k) => placed(k, N_VISITS, RECENT_VISITS);
  // Every visit fills the default checklist template (issue 23), so the checklist report's
  // tallies hold the season: known shares (radiator cold one visit in 5, alarm not working one
  // in 7, subsidy missing one in 4) and a resident's concern one visit in 10.
  const tempAt = (k) => 12 + ((k * 7919) % 121) / 10;
  const checklist = (k) => ({ indoor_temp_ok: tempAt(k) >= 18, radiator_warm: k % 5 !== 0, pipes_valves_ok: k % 13 !== 0,
    co_alarm_present: true, co_alarm_working: k % 7 !== 0, service_card_given: true, subsidy_or_coal_received: k % 4 !== 0,
    resident_concerns: k % 10 === 0 ? '暖气片不热' : '' });
  const visit = (k) => ({ id: randomUUID(), household_id: homes[k % N_HOMES], visited_at: iso(visitAt(k)),
    indoor_temp_c: tempAt(k), checklist: checklist(k), checklist_template: { id: TEMPLATE, version: 1 },
    service_card_given: true, notes: k % 10 === 0 ? '暖气片不热' : null });
  let visitsDone = 0;
  async function visitsUpTo(total) {
    const from = visitsDone;
    const jobs = [];
    for (let s = from; s < total; s += BATCH) {
      jobs.push(() => push(volunteer, { visits: Array.from({ length: Math.min(BATCH, total - s) }, (_, i) => visit(s + i)) }));
    }
    await pool(jobs);
    visitsDone = total;
  }
  const ticketAt = (j) => placed(j, N_TICKETS, RECENT_TICKETS);
  let ticketsDone = 0;
  // Tickets with their events in the same batch, as the desk records a handled ticket, so no
  // deadline passes between a ticket and its events (160 tickets and their events a batch, at most 960 records).
  async function ticketsUpTo(total) {
    const jobs = [];
    const PER_BATCH = 160;
    for (let s = ticketsDone; s < total; s += PER_BATCH) {
      jobs.push(async () => {
        const tickets = [];
        const events = [];
        for (let j = s; j < Math.min(s + PER_BATCH, total); j++) {
          const id = randomUUID();
          const at = ticketAt(j);
          const onTheSpot = j % 2 === 0;
          tickets.push({ id, household_id: homes[j % N_HOMES], category: j % 3 ? 'heating' : 'pipes', severity: 'normal',
            description: '室温偏低，暖气片不热', reported_at: iso(at), resolved_on_the_spot: onTheSpot });
          if (onTheSpot) continue;
          const ev = (type, minutes, extra) => events.push({ id: randomUUID(), ticket_id: id, type,
            occurred_at: iso(at + minutes * 60_000), ...extra });
          ev('classified', 5 + (j % 7), { category: 'heating' });
          if (j >= N_TICKETS - RECENT_TICKETS && j % 10 === 9) continue; // left open after classification
          ev('dispatched', 15 + (j % 11), { team_id: team });
          ev('on_site', 60 + (j % 53));
          ev('resolved', 120 + (j % 97));
          ev('feedback', 125 + (j % 97), { satisfaction: j % 9 ? 'satisfied' : 'unsatisfied' });
        }
        await push(dispatcher, { tickets, ticket_events: events });
      });
    }
    await pool(jobs);
    ticketsDone = total;
  }

  // One incremental pull page: the phone is at the end, 1,000 new visits arrive, it pulls them.
  async function pullPage(samples) {
    let cursor = null;
    for (;;) { // a cursor at the end: the first pull, then whatever came in while it ran
      const page = await ok('GET', `/api/v1/sync/pull?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, volunteer.token);
      const records = ['households', 'visits', 'tickets', 'ticket_events'].reduce((n, k) => n + page[k].length, 0);
      const done = cursor !== null && !page.has_more && records === 0;
      cursor = page.cursor;
      if (done) break;
    }
    const times = [];
    for (let i = 0; i < samples; i++) {
      // Stamped early in the season: they cost a page like any, and stay out of the first pull's window.
      const fresh = Array.from({ length: BATCH }, (_, x) => ({ ...visit(x), visited_at: iso(SEASON_START + (i * BATCH + x) * 1000) }));
      await push(volunteer, { visits: fresh });
      const t0 = process.hrtime.bigint();
      const r = await request('GET', `/api/v1/sync/pull?limit=1000&cursor=${encodeURIComponent(cursor)}`, volunteer.token);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 200 || r.body.visits.length !== BATCH) throw new Error(`pull page: ${r.status}, ${JSON.stringify(Object.fromEntries(Object.entries(r.body).map(([k, v]) => [k, Array.isArray(v) ? v.length : v])))}`);
      cursor = r.body.cursor;
    }
    return { p50_ms: p50(times), best_ms: Math.min(...times), samples_ms: times };
  }

  const out = { households: N_HOMES, visits_target: N_VISITS, tickets_target: N_TICKETS };
  let t0 = Date.now();
  await visitsUpTo(Math.min(N_SMALL, N_VISITS));
  out.pull_page_small = { visits: visitsDone, ...(await pullPage(9)) };
  log(`pull page at ${visitsDone} visits: p50 ${out.pull_page_small.p50_ms.toFixed(1)} ms`);
  // The rest of the season: visits and tickets interleaved, as the season brings them.
  const STEP = 100_000;
  while (visitsDone < N_VISITS || ticketsDone < N_TICKETS) {
    await visitsUpTo(Math.min(N_VISITS, visitsDone + STEP));
    await ticketsUpTo(Math.min(N_TICKETS, Math.ceil((visitsDone / N_VISITS) * N_TICKETS)));
    log(`${visitsDone} visits, ${ticketsDone} tickets`);
  }
  out.load_seconds = (Date.now() - t0) / 1000;
  if (opt.settle) {
    t0 = Date.now();
    require('node:child_process').execSync(opt.settle, { stdio: ['ignore', 'ignore', 'inherit'] });
    out.settle = { command: opt.settle.replace(/postgres:\/\/\S+/, 'DATABASE_URL'), seconds: (Date.now() - t0) / 1000 };
    log(`settled in ${out.settle.seconds.toFixed(0)} s: ${out.settle.command}`);
  }
  out.pull_page_large = { visits: visitsDone + 9 * BATCH, ...(await pullPage(9)) };
  log(`pull page at ${visitsDone} visits: p50 ${out.pull_page_large.p50_ms.toFixed(1)} ms`);

  // A new phone's first pull of the grid: every page, gzip on the wire.
  const phone = { username: volunteer.username, token: await login(volunteer.username, PASSWORD) };
  t0 = process.hrtime.bigint();
  let cursor = null;
  const first = { pages: 0, wire_bytes: 0, json_bytes: 0, households: 0, visits: 0, tickets: 0, ticket_events: 0 };
  for (;;) {
    const r = await request('GET', `/api/v1/sync/pull?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, phone.token);
    if (r.status !== 200) throw new Error(`first pull: ${r.status}`);
    first.pages += 1;
    first.wire_bytes += r.wire;
    first.json_bytes += Buffer.byteLength(JSON.stringify(r.body));
    for (const k of ['households', 'visits', 'tickets', 'ticket_events']) first[k] += r.body[k].length;
    cursor = r.body.cursor;
    if (!r.body.has_more) break;
  }
  first.ms = Number(process.hrtime.bigint() - t0) / 1e6;
  out.first_pull = first;
  log(`first pull: ${first.pages} pages, ${first.ms.toFixed(0)} ms, ${first.wire_bytes} bytes gzip`);

  // Each report, county scope, 15 times.
  const season = iso(SEASON_START).slice(0, 10);
  const reports = {
    compliance: '/api/v1/reports/compliance',
    compliance_season: `/api/v1/reports/compliance?from=${season}&group_by=team`,
    daily: '/api/v1/reports/daily',
    coverage: '/api/v1/reports/coverage',
    temperature: '/api/v1/reports/temperature',
    temperature_season: `/api/v1/reports/temperature?since=${season}`,
    checklist: `/api/v1/reports/checklist?template_id=${TEMPLATE}`,
    checklist_season: `/api/v1/reports/checklist?template_id=${TEMPLATE}&since=${season}`,
  };
  const rss = () => (opt.pid ? Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${opt.pid}/status`, 'utf8'))[1]) : null);
  out.rss_before_reports_kib = rss();
  out.reports = {};
  for (const [name, path] of Object.entries(reports)) {
    const times = [];
    let bytes = 0;
    let last = null;
    for (let i = 0; i < 15; i++) {
      const s = process.hrtime.bigint();
      const r = await request('GET', path, supervisor.token);
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      bytes = r.plain;
      last = r.body;
    }
    out.reports[name] = { path, p50_ms: p50(times), first_ms: times[0], json_bytes: bytes };
    if (name === 'checklist_season') out.checklist_season_visits = last.areas.reduce((n, a) => n + a.visits, 0);
    log(`${name}: p50 ${p50(times).toFixed(1)} ms`);
  }
  out.rss_after_reports_kib = rss();
  out.visits = visitsDone + 18 * BATCH;
  out.tickets = ticketsDone;
  const text = JSON.stringify(out);
  if (opt.out) fs.writeFileSync(opt.out, text); else console.log(text);
}

main().catch((e) => { console.error(e); process.exit(1); });
