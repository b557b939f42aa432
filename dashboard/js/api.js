// Calls to the fieldvisit API with the browser session: the HttpOnly session cookie goes along by
// itself; unsafe calls echo the readable CSRF cookie in X-CSRF-Token. An expired session is
// refreshed once through the refresh cookie before giving up.
// The JSDoc types come from /openapi.json (tests/browser/typecheck): `tsc` checks each call's path,
// body and the fields read from its answer; browsers ignore them.

import { uuid } from './dom.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)fv_csrf=([^;]+)/);
  return m ? m[1] : '';
}

async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

let onSignedOut = () => {};
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

export async function refresh() {
  const res = await send('POST', '/api/v1/auth/browser-refresh');
  return res.ok;
}

/**
 * @template {import('fieldvisit-api').Method} M
 * @template {string} S
 * @param {M} method
 * @param {import('fieldvisit-api').KnownPath<M, S>} path
 * @param {import('fieldvisit-api').Body<M, S>} [body]
 * @returns {Promise<import('fieldvisit-api').Answer<M, S>>}
 */
export async function call(method, path, body) {
  let res = await send(method, path, body);
  if (res.status === 401 && (await refresh())) res = await send(method, path, body);
  if (res.status === 401) onSignedOut();
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/**
 * @template {string} S
 * @param {import('fieldvisit-api').KnownPath<'GET', S>} path
 */
export const get = (path) => call('GET', path);
/**
 * @template {string} S
 * @param {import('fieldvisit-api').KnownPath<'POST', S>} path
 * @param {import('fieldvisit-api').Body<'POST', S>} [body]
 */
export const post = (path, body) => call('POST', path, body);
/**
 * @template {string} S
 * @param {import('fieldvisit-api').KnownPath<'PUT', S>} path
 * @param {import('fieldvisit-api').Body<'PUT', S>} body
 */
export const put = (path, body) => call('PUT', path, body);

/** The device id of this browser: made once and kept; it names the device, it is not a secret. */
export function deviceId() {
  let id = localStorage.getItem('fv.device_id');
  // Device ids are UUIDs (contract 1.1); an older browser-… id is replaced once.
  if (!id || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    id = uuid();
    localStorage.setItem('fv.device_id', id);
  }
  return id;
}

/** Logs in; the session goes into cookies. Returns the user. */
export async function login(username, password) {
  const res = await fetch('/api/v1/auth/browser-login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ username, password, device_id: deviceId(), device_name: `Browser · ${navigator.platform}`.slice(0, 100) }),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  /** @type {import('fieldvisit-api').Answer<'POST', '/api/v1/auth/browser-login'>} */
  const session = data;
  return session.user;
}

export async function logout() {
  await send('POST', '/api/v1/auth/browser-logout');
}
