// The field app's service worker: the shell (this folder's files and the one dashboard module it
// shares) is cached at install and served from the cache, so the app opens with no network; each
// load also refreshes the cached copy in the background, so an upgrade arrives on the next open.
// The API is never cached here: records live in IndexedDB.

const CACHE = 'fieldvisit-app-2';
const SHELL = [
  './', 'style.css', 'manifest.webmanifest', 'icon.svg',
  'js/main.js', 'js/api.js', 'js/store.js', 'js/sync.js', 'js/i18n.js', 'js/ui.js', 'js/volunteer.js',
  'js/handler.js', 'js/attention.js', 'js/deadline.js', 'js/photo.js', 'js/sha256.js',
  '../ui/js/dom.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL.map((p) => new Request(p, { cache: 'no-cache' })))).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('fieldvisit-app-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

const shell = new Set(SHELL.map((p) => new URL(p, self.registration.scope).pathname));

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  const key = req.mode === 'navigate' && url.pathname.startsWith(new URL(self.registration.scope).pathname) ? new URL('./', self.registration.scope).pathname : url.pathname;
  if (!shell.has(key)) return; // the API and everything else: straight to the network
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(key);
    const fresh = fetch(key, { cache: 'no-cache' }).then((res) => {
      if (res.ok) cache.put(key, res.clone());
      return res;
    });
    if (cached) {
      event.waitUntil(fresh.catch(() => {}));
      return cached;
    }
    return fresh;
  })());
});
