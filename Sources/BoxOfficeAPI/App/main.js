// BoxOffice web app: the router, the API client and the session. Each page is an ES module of
// its own (page-*.js), imported the first time it is shown.
const routes = [
  [/^\/app\/?$/, 'list'],
  [/^\/app\/events\/([^/]+)$/, 'event'],
  [/^\/app\/events\/([^/]+)\/queue$/, 'queue'],
  [/^\/app\/events\/([^/]+)\/seats$/, 'seats'],
  [/^\/app\/reservations\/([^/]+)$/, 'checkout'],
  [/^\/app\/bookings$/, 'bookings'],
  [/^\/app\/register$/, 'register'],
  [/^\/app\/login$/, 'login'],
  [/^\/app\/logout$/, 'logout'],
  [/^\/app\/admin$/, 'admin'],
  [/^\/app\/admin\/events\/([^/]+)$/, 'admin-event'],
];
const TOKEN = 'boxoffice.token';

/** An API error: the problem document's status, code and detail, or status 0 for no answer. */
export class ApiError extends Error {
  constructor(status, code, detail, headers) {
    super(detail);
    this.status = status; this.code = code; this.detail = detail; this.headers = headers;
  }
}

/** The signed-in user from the token in sessionStorage (never in a URL), or null. */
export function session() {
  const token = sessionStorage.getItem(TOKEN);
  if (!token) return null;
  try {
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    if (claims.exp * 1000 <= Date.now()) { sessionStorage.removeItem(TOKEN); return null; }
    return { token, sub: claims.sub, role: claims.role };
  } catch { sessionStorage.removeItem(TOKEN); return null; }
}
export function signIn(token) { sessionStorage.setItem(TOKEN, token); updateNav(); }
export function signOut() { sessionStorage.removeItem(TOKEN); updateNav(); }

/** Calls the JSON API; throws ApiError with a plain message for every failure. */
export async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({ Accept: 'application/json' }, extraHeaders || {});
  const s = session();
  if (s) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'BoxOffice cannot be reached. Check your connection and try again.');
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch { doc = null; }
  if (response.ok) return doc;
  if (response.status === 401 && s) signOut();
  const detail = response.status === 429
    ? `Too many requests. Please wait ${response.headers.get('Retry-After') || 'a few'} seconds and try again.`
    : (doc && doc.detail) || `The request failed (${response.status}). Please try again.`;
  throw new ApiError(response.status, doc && doc.code, detail, response.headers);
}

/** The headers of a reserve: a fresh Idempotency-Key, and the event's admission token if the
 *  waiting room gave one. */
export function reserveHeaders(eventId) {
  const headers = { 'Idempotency-Key': crypto.randomUUID() };
  const admission = sessionStorage.getItem(`boxoffice.admission.${eventId}`);
  if (admission) headers['Admission-Token'] = admission;
  return headers;
}

/** Builds an element: el('p', {class: 'muted'}, 'text', child, ...). */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

/** A labelled input: the label's text is the control's visible name. */
export function field(label, attrs) {
  const id = `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${Math.random().toString(36).slice(2, 7)}`;
  const input = el('input', Object.assign({ id, name: label.toLowerCase() }, attrs));
  const alert = el('p', { role: 'alert', id: `${id}-error` });
  input.setAttribute('aria-describedby', alert.id);
  return { wrap: el('div', { class: 'field' }, el('label', { for: id }, label), input, alert), input, alert };
}

/** Money in minor units, e.g. 8900 EUR → "89.00 EUR". */
export function money(amount, currency) { return `${(amount / 100).toFixed(2)} ${currency}`; }

/** A date-time as the reader's clock shows it. */
export function when(iso) { return new Date(iso).toLocaleString(); }

/** Goes to `path` inside the app without reloading. */
export function go(path, replace) {
  if (replace) history.replaceState(null, '', path); else history.pushState(null, '', path);
  show();
}

/** Sends a signed-out reader to the log-in page, and back here afterwards. */
export function requireSignIn() {
  if (session()) return true;
  go(`/app/login?next=${encodeURIComponent(location.pathname)}`, true);
  return false;
}

function updateNav() {
  const s = session();
  for (const a of document.querySelectorAll('[data-when]')) a.hidden = (a.dataset.when === 'in') !== Boolean(s);
  for (const a of document.querySelectorAll('[data-role]')) a.hidden = !s || s.role !== a.dataset.role;
}

let leave = null;
async function show() {
  if (leave) { leave(); leave = null; }
  updateNav();
  const main = document.getElementById('main');
  const path = location.pathname;
  for (const [pattern, page] of routes) {
    const m = path.match(pattern);
    if (!m) continue;
    try {
      const module = await import(`/app/assets/page-${page}.js`);
      main.replaceChildren();
      leave = (await module.render(main, m.slice(1).map(decodeURIComponent))) || null;
    } catch (e) {
      main.replaceChildren(el('h1', {}, 'Something went wrong'), el('p', { role: 'alert' }, e instanceof ApiError ? e.detail : 'This page could not be shown. Please reload.'));
    }
    main.focus({ preventScroll: true });
    return;
  }
  main.replaceChildren(el('h1', {}, 'Not found'), el('p', {}, 'No such page. ', el('a', { href: '/app/' }, 'See the events on sale.')));
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/app')) return;
  e.preventDefault();
  go(url.pathname + url.search);
});
window.addEventListener('popstate', show);
show();
