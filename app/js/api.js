// The API with bearer tokens, as a phone app: the session lives in IndexedDB (it must outlast
// reloads and work offline). Refresh follows docs/protocol.md: one refresh at a time, the new
// refresh token stored durably before the new access token is used, and after a lost answer the
// same refresh token presented once more within 60 s (contract 1.1).
// The JSDoc types come from /openapi.json (tests/browser/typecheck): `tsc` checks each call's path
// and the fields read from its answer; browsers ignore them.

import { getKv, setKv, tx } from './store.js';
import { uuid } from '../../ui/js/dom.js';

export const APP_VERSION = 'app-1';

export class ApiError extends Error {
  constructor(status, body, headers) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
    this.retryAfter = Number(headers?.get('Retry-After')) || 0;
  }
}

/** Lost answers and timeouts: the request may or may not have been applied. */
export class NetworkError extends Error {}

export let session = null; // {access_token, refresh_token, user}
/** @type {(err?: Error) => void} */
let onSignedOut = () => {};
export const whenSignedOut = (fn) => { onSignedOut = fn; };

export async function loadSession() {
  session = (await getKv('session')) ?? null;
  return session;
}

/** This installation's device id: made once, kept (contract 1.1 wants a UUID). */
export async function deviceId() {
  let id = await getKv('device_id');
  if (!id) {
    id = uuid();
    await setKv('device_id', id);
  }
  return id;
}

/**
 * @typedef {object} CallOptions
 * @property {string} [token]
 * @property {BodyInit} [body] already serialised (push bodies may be gzipped)
 * @property {Record<string, string>} [headers]
 * @property {number} [timeoutMs]
 */

/**
 * @template {import('fieldvisit-api').Method} M
 * @template {string} S
 * @param {M} method
 * @param {import('fieldvisit-api').KnownPath<M, S>} path
 * @param {CallOptions} [options]
 * @returns {Promise<import('fieldvisit-api').Answer<M, S>>}
 */
async function raw(method, path, { token, body, headers = {}, timeoutMs = 30_000 } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(path, {
      method,
      headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
      body,
      signal: ctl.signal,
      cache: 'no-store',
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!res.ok) throw new ApiError(res.status, data, res.headers);
    return data;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new NetworkError(err.message);
  } finally {
    clearTimeout(timer);
  }
}

export async function login(username, password) {
  const device_id = await deviceId();
  const data = await raw('POST', '/api/v1/auth/login', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(/** @satisfies {import('fieldvisit-api').Schema<'LoginRequest'>} */ ({
      username, password, device_id, device_name: navigator.userAgent.slice(0, 100), app_version: APP_VERSION,
    })),
  });
  await storeSession(data);
  return data.user;
}

/** @param {import('fieldvisit-api').Schema<'TokenPair'>} data */
async function storeSession(data) {
  const previous = await getKv('session');
  session = { access_token: data.access_token, refresh_token: data.refresh_token, user: data.user ?? previous?.user };
  // Resolves only once committed: the new refresh token is durable before anything uses the pair.
  await setKv('session', session);
}

export async function logout() {
  const token = session?.access_token;
  session = null;
  await tx(['kv'], 'readwrite', (s) => s.kv.del('session'));
  if (token) raw('POST', '/api/v1/auth/logout', { token }).catch(() => {});
}

let refreshing = null;
/** One refresh at a time (also across tabs where the browser has Web Locks). */
function refresh() {
  refreshing ??= (navigator.locks ? navigator.locks.request('fv-refresh', refreshOnce) : refreshOnce())
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function refreshOnce() {
  const stored = await getKv('session');
  // Another tab may have refreshed while this one waited for the lock.
  if (stored && session && stored.access_token !== session.access_token) {
    session = stored;
    return;
  }
  const token = stored?.refresh_token;
  if (!token) throw new ApiError(401, { error: { code: 'session_revoked' } });
  const body = JSON.stringify(/** @satisfies {import('fieldvisit-api').Schema<'RefreshRequest'>} */ ({ refresh_token: token }));
  const send = () => raw('POST', '/api/v1/auth/refresh', { headers: { 'Content-Type': 'application/json' }, body, timeoutMs: 15_000 });
  let data;
  try {
    data = await send();
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    // The answer may have been lost after the server rotated the token: the same token again,
    // within the 60 s the contract allows, gets a working pair.
    await new Promise((r) => setTimeout(r, 2_000));
    data = await send();
  }
  await storeSession(data);
}

const SIGNED_OUT = ['session_revoked', 'device_revoked', 'invalid_token', 'refresh_token_reused', 'missing_token', 'user_disabled'];

/**
 * An authenticated call; an expired access token is refreshed once.
 * @template {import('fieldvisit-api').Method} M
 * @template {string} S
 * @param {M} method
 * @param {import('fieldvisit-api').KnownPath<M, S>} path
 * @param {Omit<CallOptions, 'token'>} [opts]
 * @returns {Promise<import('fieldvisit-api').Answer<M, S>>}
 */
export async function call(method, path, opts = {}) {
  if (!session) throw new ApiError(401, { error: { code: 'missing_token' } });
  const used = session.access_token;
  try {
    return await raw(method, path, { ...opts, token: used });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    if (err.code === 'token_expired') {
      try {
        // A call that overlapped a refresh just takes the new token.
        if (session?.access_token === used) await refresh();
        if (!session) throw err;
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) signedOut(e);
        throw e;
      }
      return raw(method, path, { ...opts, token: session.access_token });
    }
    if (SIGNED_OUT.includes(err.code)) signedOut(err);
    throw err;
  }
}

function signedOut(err) {
  session = null;
  tx(['kv'], 'readwrite', (s) => s.kv.del('session')).finally(() => onSignedOut(err));
}
