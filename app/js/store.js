// IndexedDB, promise-shaped. Every write that must survive the tab being killed resolves only when
// its transaction has committed (oncomplete), never on the request's success.

const NAME = 'fieldvisit-app';
// kv: session, device id, cursor, policy, …; outbox: records not yet given a final status;
// batch: the one frozen batch in flight; photos: bytes waiting for upload; notices: conflicts/merges;
// list: the households screen's sorted rows, derived from households and visits (see tx).
export const STORES = ['kv', 'households', 'visits', 'tickets', 'events', 'outbox', 'batch', 'photos', 'notices', 'list'];
const LISTED = new Set(['households', 'visits']);

let opened;
export function db() {
  opened ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, 2);
    req.onupgradeneeded = () => {
      const d = req.result;
      for (const s of STORES) if (!d.objectStoreNames.contains(s)) d.createObjectStore(s, { keyPath: s === 'kv' ? 'k' : s === 'photos' ? 'hash' : 'id' });
    };
    req.onsuccess = () => {
      req.result.onversionchange = () => req.result.close(); // a newer app in another tab upgrades
      resolve(req.result);
    };
    req.onerror = () => reject(req.error);
  });
  return opened;
}

const done = (req) => new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = () => reject(req.error); });

/** Runs `fn(stores)` in one transaction over `names`; resolves with fn's value once committed.
 *  The first write to households or visits also clears the derived `list` store in the same
 *  transaction, so the cached list can never outlive the data it came from. */
export async function tx(names, mode, fn) {
  const guard = mode === 'readwrite' && !names.includes('list') && names.some((n) => LISTED.has(n));
  const t = (await db()).transaction(guard ? [...names, 'list'] : names, mode);
  let cleared = false;
  const invalidate = () => {
    if (!cleared) t.objectStore('list').clear();
    cleared = true;
  };
  const stores = Object.fromEntries(names.map((n) => [n, wrap(t.objectStore(n), guard && LISTED.has(n) ? invalidate : null)]));
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

function wrap(s, onWrite) {
  const write = (f) => { onWrite?.(); return done(f()); };
  return {
    get: (k) => done(s.get(k)),
    all: () => done(s.getAll()),
    put: (v) => write(() => s.put(v)),
    del: (k) => write(() => s.delete(k)),
    clear: () => write(() => s.clear()),
    count: () => done(s.count()),
  };
}

export const get = (store, key) => tx([store], 'readonly', (s) => s[store].get(key));
export const all = (store) => tx([store], 'readonly', (s) => s[store].all());
export const put = (store, value) => tx([store], 'readwrite', (s) => s[store].put(value));
export const del = (store, key) => tx([store], 'readwrite', (s) => s[store].del(key));

export const getKv = async (k) => (await get('kv', k))?.v;
export const setKv = (k, v) => put('kv', { k, v });
