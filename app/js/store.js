// IndexedDB, promise-shaped. Every write that must survive the tab being killed resolves only when
// its transaction has committed (oncomplete), never on the request's success.

const NAME = 'fieldvisit-app';
// kv: session, device id, cursor, policy, …; outbox: records not yet given a final status;
// batch: the one frozen batch in flight; photos: bytes waiting for upload; notices: conflicts/merges.
export const STORES = ['kv', 'households', 'visits', 'tickets', 'events', 'outbox', 'batch', 'photos', 'notices'];

let opened;
export function db() {
  opened ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, 1);
    req.onupgradeneeded = () => {
      const d = req.result;
      for (const s of STORES) if (!d.objectStoreNames.contains(s)) d.createObjectStore(s, { keyPath: s === 'kv' ? 'k' : s === 'photos' ? 'hash' : 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return opened;
}

const done = (req) => new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = () => reject(req.error); });

/** Runs `fn(stores)` in one transaction over `names`; resolves with fn's value once committed. */
export async function tx(names, mode, fn) {
  const t = (await db()).transaction(names, mode);
  const stores = Object.fromEntries(names.map((n) => [n, wrap(t.objectStore(n))]));
  const committed = new Promise((resolve, reject) => {
    t.oncomplete = resolve;
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error ?? new Error('transaction aborted'));
  });
  let value;
  try {
    value = await fn(stores);
  } catch (err) {
    try { t.abort(); } catch { /* already finished */ }
    throw err;
  }
  await committed;
  return value;
}

function wrap(s) {
  return {
    get: (k) => done(s.get(k)),
    all: () => done(s.getAll()),
    put: (v) => done(s.put(v)),
    del: (k) => done(s.delete(k)),
    clear: () => done(s.clear()),
    count: () => done(s.count()),
  };
}

export const get = (store, key) => tx([store], 'readonly', (s) => s[store].get(key));
export const all = (store) => tx([store], 'readonly', (s) => s[store].all());
export const put = (store, value) => tx([store], 'readwrite', (s) => s[store].put(value));
export const del = (store, key) => tx([store], 'readwrite', (s) => s[store].del(key));

export const getKv = async (k) => (await get('kv', k))?.v;
export const setKv = (k, v) => put('kv', { k, v });
