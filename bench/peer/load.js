// The peer's load: the simulator's records as CouchDB documents, pushed with `_bulk_docs` by
// concurrent clients (closed loop, like the simulator's phones), for a fixed time.
//   node load.js --url http://127.0.0.1:5984 --clients 16 --batch 200 --seconds 20
// Prints one JSON line: docs, seconds, docs_per_s, p50_ms, p99_ms, errors.
'use strict';
const { randomUUID } = require('node:crypto');
const { parseArgs } = require('node:util');

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:5984' },
    db: { type: 'string', default: 'fieldvisit' },
    clients: { type: 'string', default: '16' },
    batch: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
  },
});
const clients = Number(opt.clients);
const batch = Number(opt.batch);
const seconds = Number(opt.seconds);
const dbUrl = `${opt.url.replace(/\/$/, '')}/${opt.db}`;

const iso = (ms) => new Date(ms).toISOString();
const pick = (a) => a[Math.floor(Math.random() * a.length)];

// One client's documents in the simulator's mix: 20 households first, then 80 % visits,
// 10 % tickets, 10 % ticket events.
function makeClient() {
  const households = [];
  const tickets = [];
  return function nextBatch() {
    const now = Date.now();
    const docs = [];
    while (households.length < 20) {
      const id = randomUUID();
      households.push(id);
      docs.push({ _id: id, type: 'household', address: `${1 + Math.floor(Math.random() * 40)}号楼`, head_name: '住户',
        heating: 'central', tags: [], updated_at: iso(now - 3600000) });
    }
    while (docs.length < batch) {
      const at = now - 60000 - Math.floor(Math.random() * 3540000);
      const r = Math.random() * 100;
      if (r < 80) {
        docs.push({ _id: randomUUID(), type: 'visit', household_id: pick(households), visited_at: iso(at),
          indoor_temp_c: (140 + Math.floor(Math.random() * 100)) / 10, checklist: { radiator_ok: Math.random() < 0.9, co_alarm: true } });
      } else if (r < 90) {
        const id = randomUUID();
        tickets.push(id);
        docs.push({ _id: id, type: 'ticket', household_id: pick(households), category: 'heating', severity: 'normal',
          description: '暖气不热', reported_at: iso(at - 3600000), resolved_on_the_spot: Math.random() < 0.3 });
      } else if (tickets.length > 0) {
        docs.push({ _id: randomUUID(), type: 'ticket_event', ticket_id: pick(tickets),
          event: Math.random() < 0.5 ? 'comment' : 'feedback', occurred_at: iso(at) });
      }
    }
    return docs;
  };
}

async function main() {
  const created = await fetch(dbUrl, { method: 'PUT' });
  if (!created.ok && created.status !== 412) throw new Error(`PUT ${dbUrl}: ${created.status}`);
  const latencies = [];
  let docs = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    const next = makeClient();
    while (performance.now() < deadline) {
      const body = JSON.stringify({ docs: next() });
      const t0 = performance.now();
      const res = await fetch(`${dbUrl}/_bulk_docs`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      const answer = await res.json();
      latencies.push(performance.now() - t0);
      if (res.status !== 201 || !Array.isArray(answer)) { errors += 1; continue; }
      for (const r of answer) { if (r.ok) docs += 1; else errors += 1; }
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? 0;
  console.log(JSON.stringify({ clients, batch, docs, seconds: +elapsed.toFixed(2), docs_per_s: Math.round(docs / elapsed),
    p50_ms: Math.round(q(0.5)), p99_ms: Math.round(q(0.99)), errors }));
}

main().catch((e) => { console.error(e); process.exit(1); });
