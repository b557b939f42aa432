// The outbox and the sync loop, exactly as docs/protocol.md says: every record is written to the
// outbox (and the local copy) in one committed transaction before any network call; a batch, once
// built, is frozen under its batch_id and re-sent unchanged (only device_time is fresh) until an
// answer gives each record a final status; then photos go up by hash, then a pull by cursor.

import { tx, all, getKv, setKv } from './store.js';
import { call, ApiError, NetworkError, session } from './api.js';
import { uuid } from '../../ui/js/dom.js';

const STORE_OF = { household: 'households', visit: 'visits', ticket: 'tickets', ticket_event: 'events' };
const ARRAY_OF = { household: 'households', visit: 'visits', ticket: 'tickets', ticket_event: 'ticket_events' };
const LOCAL = ['households', 'visits', 'tickets', 'events'];

export const changes = new EventTarget();
/** Bumped whenever local data changes, so screens may keep what they derived until then. */
export let generation = 0;
const changed = () => {
  generation += 1;
  changes.dispatchEvent(new Event('change'));
};

/** The phone's wall clock as RFC 3339 with its own offset (the server corrects it, never the app). */
export function nowRfc3339(date = new Date()) {
  const off = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + off * 60_000).toISOString().slice(0, 23); // milliseconds: two taps within a second keep their order
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** Keeps a new or corrected record: local copy and outbox entry in one committed transaction. */
export async function save(type, record) {
  await tx([STORE_OF[type], 'outbox'], 'readwrite', async (s) => {
    await s[STORE_OF[type]].put({ ...record, _pending: true, _mine: true });
    await s.outbox.put({ id: record.id, type, record, state: 'pending', at: Date.now() });
  });
  changed();
  soon();
}

/** The user gives up on a rejected record: it leaves the outbox and the phone. */
export async function discard(id) {
  await tx(['outbox', ...LOCAL], 'readwrite', async (s) => {
    const entry = await s.outbox.get(id);
    if (!entry || entry.state !== 'rejected') return;
    await s.outbox.del(id);
    await s[STORE_OF[entry.type]].del(id);
  });
  changed();
}

export async function dismissNotice(id) {
  await tx(['notices'], 'readwrite', (s) => s.notices.del(id));
  changed();
}

export async function savePhoto(hash, bytes, type) {
  await tx(['photos'], 'readwrite', (s) => s.photos.put({ hash, bytes, type, at: Date.now() }));
}

/** After a deliberate logout (only allowed with an empty outbox): the next user starts clean. */
export async function forgetLocalData() {
  const keep = new Set(['device_id']);
  await tx(['kv', 'notices', 'photos', 'batch', ...LOCAL], 'readwrite', async (s) => {
    for (const name of ['notices', 'photos', 'batch', ...LOCAL]) await s[name].clear();
    for (const { k } of await s.kv.all()) if (!keep.has(k)) await s.kv.del(k);
  });
  changed();
}

// ---- push ----

async function frozenBatch() {
  const limit = (await getKv('max_batch_records')) ?? 200;
  return tx(['outbox', 'batch'], 'readwrite', async (s) => {
    const [existing] = await s.batch.all();
    if (existing) return existing;
    const pending = (await s.outbox.all()).filter((e) => e.state === 'pending').sort((a, b) => a.at - b.at).slice(0, limit);
    if (!pending.length) return null;
    const batch = { id: uuid(), ids: pending.map((e) => e.id), households: [], visits: [], tickets: [], ticket_events: [] };
    for (const e of pending) {
      batch[ARRAY_OF[e.type]].push(e.record);
      await s.outbox.put({ ...e, state: 'batched', batch_id: batch.id });
    }
    await s.batch.put(batch);
    return batch;
  });
}

async function body(batch) {
  const json = JSON.stringify(/** @satisfies {import('fieldvisit-api').Schema<'PushRequest'>} */ ({
    protocol_version: 1,
    batch_id: batch.id,
    device_time: nowRfc3339(), // stamped per attempt: it measures the clock's error now
    households: batch.households,
    visits: batch.visits,
    tickets: batch.tickets,
    ticket_events: batch.ticket_events,
  }));
  const headers = { 'Content-Type': 'application/json' };
  if (typeof CompressionStream === 'undefined') return { body: json, headers };
  const gz = await new Response(new Blob([json]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
  return { body: gz, headers: { ...headers, 'Content-Encoding': 'gzip' } };
}

/** @typedef {import('fieldvisit-api').Schema<'PushResponse'>} PushResponse */

async function pushOnce(batch) {
  /** @type {PushResponse} */
  let answer;
  try {
    answer = await call('POST', '/api/v1/sync/push', { ...(await body(batch)), timeoutMs: 30_000 });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err; // answer lost: the same batch goes again
    await wholeBatchRefused(batch, err);
    throw err;
  }
  if (Number.isFinite(answer.clock_offset_ms)) await setKv('clock_offset_ms', answer.clock_offset_ms);
  await applyAnswer(batch, answer);
}

/** @param {PushResponse} answer */
async function applyAnswer(batch, answer) {
  await tx(['outbox', 'batch', 'notices', ...LOCAL], 'readwrite', async (s) => {
    const seen = new Set();
    for (const r of answer.results ?? []) {
      const entry = await s.outbox.get(r.id);
      if (!entry || entry.batch_id !== batch.id) continue;
      seen.add(r.id);
      const store = s[STORE_OF[entry.type]];
      const local = await store.get(r.id);
      if (r.status === 'applied' || r.status === 'duplicate') {
        await s.outbox.del(r.id);
        if (local) {
          const version = entry.type === 'household' ? (entry.record.base_version ?? 0) + 1 : local.version;
          // A new household that may repeat one already in its grid keeps the other's id: the
          // household page says so; nothing is blocked (the desk merges, docs/protocol.md).
          const duplicateOf = r.hint?.code === 'possible_duplicate' ? r.hint.of : local._duplicate_of;
          await store.put({ ...local, _pending: false, _error: undefined, version, _duplicate_of: duplicateOf });
        }
      } else if (r.status === 'merged' || r.status === 'conflict') {
        await s.outbox.del(r.id);
        if (r.current) await store.put({ ...r.current, _mine: true });
        else if (local) await store.put({ ...local, _pending: false, _conflict: true });
        await s.notices.put({ id: r.id, kind: r.status, type: entry.type, mine: entry.record, theirs: r.current ?? null, fields: r.conflicting_fields ?? [] });
      } else if (r.status === 'rejected') {
        await s.outbox.put({ ...entry, state: 'rejected', batch_id: undefined, error: r.error ?? {} });
        if (local) await store.put({ ...local, _error: r.error ?? {} });
      } else {
        await s.outbox.put({ ...entry, state: 'pending', batch_id: undefined }); // retry: a new batch later
      }
    }
    for (const id of batch.ids) {
      if (seen.has(id)) continue;
      const entry = await s.outbox.get(id);
      if (entry) await s.outbox.put({ ...entry, state: 'pending', batch_id: undefined });
    }
    await s.batch.del(batch.id);
  });
}

/** A whole-batch answer: what to do with the frozen batch (docs/protocol.md, "Whole-batch answers"). */
async function wholeBatchRefused(batch, err) {
  const unfreeze = async (state, error) => tx(['outbox', 'batch'], 'readwrite', async (s) => {
    for (const id of batch.ids) {
      const entry = await s.outbox.get(id);
      if (entry) await s.outbox.put({ ...entry, state, batch_id: undefined, error });
    }
    await s.batch.del(batch.id);
  });
  if (err.status === 409 && err.code === 'batch_id_reused') await unfreeze('pending');
  else if (err.status === 413) {
    await setKv('max_batch_records', Math.max(1, Math.floor(batch.ids.length / 2)));
    await unfreeze('pending');
  } else if (err.status === 400 || err.status === 422) {
    await unfreeze('rejected', { code: err.code, message: err.message, field: err.field });
  } else if (err.status === 426) await unfreeze('pending');
  // 401 (log in again), 429 and 503 (wait): the same batch goes again later.
}

// ---- photos ----

async function uploadPhotos() {
  for (const p of await all('photos')) {
    try {
      await call('PUT', `/api/v1/blobs/${p.hash}`, { body: p.bytes, headers: { 'Content-Type': p.type }, timeoutMs: 60_000 });
    } catch (err) {
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429) {
        await tx(['photos'], 'readwrite', (s) => s.photos.put({ ...p, error: err.message }));
        continue;
      }
      throw err;
    }
    await tx(['photos'], 'readwrite', (s) => s.photos.del(p.hash));
    changed();
  }
}

// ---- pull ----

/** @typedef {import('fieldvisit-api').Schema<'PullResponse'>} PullPage */

async function pull() {
  for (;;) {
    const cursor = await getKv('cursor');
    const q = cursor ? `limit=500&cursor=${encodeURIComponent(cursor)}` : 'limit=500';
    /** @type {PullPage} */
    let page;
    try {
      page = await call('GET', `/api/v1/sync/pull?${q}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.code === 'cursor_reset') {
        await markStale();
        continue;
      }
      throw err;
    }
    noteServerTime(page.server_time);
    await applyPage(page, !page.has_more && (await getKv('stale')));
    if (!page.has_more) return;
  }
}

/** cursor_reset: drop the cursor, mark every server record stale; the outbox is never touched. */
async function markStale() {
  await tx(['kv', ...LOCAL], 'readwrite', async (s) => {
    await s.kv.del('cursor');
    await s.kv.put({ k: 'stale', v: true });
    for (const name of LOCAL) for (const r of await s[name].all()) if (!r._pending) await s[name].put({ ...r, _stale: true });
  });
}

/** @param {PullPage} page */
async function applyPage(page, sweepStale) {
  await tx(['kv', 'outbox', ...LOCAL], 'readwrite', async (s) => {
    for (const h of page.households ?? []) {
      const local = await s.households.get(h.id);
      if (local?._pending && (await s.outbox.get(h.id))) continue; // the push will merge the edit
      if (!local || local._stale || h.version >= (local.version ?? 0)) await s.households.put({ ...h, _mine: local?._mine, _duplicate_of: local?._duplicate_of });
    }
    for (const v of page.visits ?? []) await s.visits.put({ ...v, _mine: (await s.visits.get(v.id))?._mine || v.volunteer_id === session?.user?.id });
    for (const t of page.tickets ?? []) {
      const local = await s.tickets.get(t.id);
      if (!local || local._pending || local._stale || t.version >= (local.version ?? 0)) await s.tickets.put({ ...t, _mine: local?._mine });
    }
    for (const e of page.ticket_events ?? []) await s.events.put(e);
    for (const r of page.removed ?? []) {
      if (r.type === 'household') await s.households.del(r.id);
      if (r.type === 'ticket') {
        await s.tickets.del(r.id);
        for (const e of await s.events.all()) if (e.ticket_id === r.id && !e._pending) await s.events.del(e.id);
      }
    }
    const upsert = async (k, rows) => {
      if (!rows?.length) return;
      const map = (await s.kv.get(k))?.v ?? {};
      for (const r of rows) map[r.id] = r;
      await s.kv.put({ k, v: map });
    };
    await upsert('areas', page.areas);
    await upsert('teams', page.teams);
    await upsert('checklists', page.checklist_templates);
    if (page.policy) await s.kv.put({ k: 'policy', v: page.policy });
    if (sweepStale) {
      for (const name of LOCAL) for (const r of await s[name].all()) if (r._stale) await s[name].del(r.id);
      await s.kv.del('stale');
    }
    await s.kv.put({ k: 'cursor', v: page.cursor });
  });
}

async function noteServerTime(serverTime) {
  const t = Date.parse(serverTime ?? '');
  if (Number.isFinite(t)) await setKv('server_clock_offset_ms', t - Date.now());
}

// ---- the loop ----

let running = null;
let again = false;

/** Push everything waiting, upload photos, pull. One run at a time per device (Web Locks across tabs). */
export function syncNow() {
  if (running) {
    again = true;
    return running;
  }
  const run = async () => {
    const work = async () => {
      const info = await call('GET', '/api/v1/sync/info');
      noteServerTime(info.server_time);
      if (!(await getKv('max_batch_records'))) await setKv('max_batch_records', Math.min(info.max_batch_records ?? 200, 200));
      for (let batch = await frozenBatch(); batch; batch = await frozenBatch()) await pushOnce(batch);
      await uploadPhotos();
      await pull();
      await setKv('last_sync', new Date().toISOString());
      await setKv('last_error', null);
    };
    try {
      if (navigator.locks) await navigator.locks.request('fv-sync', work);
      else await work();
    } catch (err) {
      await setKv('last_error', err instanceof NetworkError ? 'offline' : (err.code ?? err.message));
      if (err.retryAfter) backoff = Math.max(backoff, err.retryAfter * 1000);
      throw err;
    } finally {
      changed();
    }
  };
  running = run().finally(() => {
    running = null;
    if (again) {
      again = false;
      syncNow().catch(() => {});
    }
  });
  return running;
}

let backoff = 0;
let soonTimer = null;
/** After a save: sync shortly, if the phone believes it is online. */
function soon() {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(() => { if (navigator.onLine) syncNow().catch(() => {}); }, 300);
}

/** Sync when the network returns and every minute (with back-off after failures). */
export function startSyncing() {
  addEventListener('online', () => syncNow().catch(() => {}));
  let delay = 60_000;
  const tick = async () => {
    try {
      if (session && navigator.onLine) await syncNow();
      delay = 60_000;
    } catch {
      delay = Math.min(Math.max(delay * 2, backoff), 15 * 60_000);
    }
    backoff = 0;
    setTimeout(tick, delay);
  };
  setTimeout(tick, 1_000);
}

/** What the status line shows: how many records (photos included) wait, and how many need the user. */
export const outboxCounts = () => tx(['outbox', 'photos'], 'readonly', countsIn);

async function countsIn(s) {
  const [entries, photos] = await Promise.all([s.outbox.all(), s.photos.all()]);
  const rejected = entries.filter((e) => e.state === 'rejected').length;
  return { waiting: entries.length - rejected + photos.filter((p) => !p.error).length, rejected };
}

/** The status line's counts and kv values, in one transaction (each costs a round trip on a slow phone). */
export const statusFacts = (keys) => tx(['kv', 'outbox', 'photos'], 'readonly', (s) => Promise.all([
  countsIn(s), ...keys.map(async (k) => (await s.kv.get(k))?.v),
]));
