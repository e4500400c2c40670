// Shared helpers of the BoxOffice k6 scripts.
//
// Environment:
//   BASE_URL       the API, default http://127.0.0.1:8080
//   ADMIN_TOKEN    a bearer token with the admin role (boxofficectl token --role admin --sub k6-admin)
//   USER_TOKENS    comma-separated buyer tokens, or USER_TOKENS_FILE, a file of them (for thousands); or
//   TOKEN_URL      mint buyer tokens by signing up and logging in (POST /users, /auth/login); the default
//   EVENT_ID       the event to use; when unset, setup() creates one (needs ADMIN_TOKEN)
//   CATEGORY       category name, default "floor"; STOCK, default 500; MAX_PER_USER, default 4
import http from 'k6/http';
import { check, fail } from 'k6';

// Read at init time (open() is only allowed there).
const TOKENS_FROM_FILE = __ENV.USER_TOKENS_FILE ? open(__ENV.USER_TOKENS_FILE) : '';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const CATEGORY = __ENV.CATEGORY || 'floor';

export function headers(token, extra) {
  const h = { 'Content-Type': 'application/json' };
  if (token) h['Authorization'] = `Bearer ${token}`;
  return Object.assign(h, extra || {});
}

export function post(path, body, token, extra, tags) {
  return http.post(`${BASE_URL}${path}`, JSON.stringify(body), { headers: headers(token, extra), tags: tags || { name: path } });
}

export function get(path, token, tags) {
  return http.get(`${BASE_URL}${path}`, { headers: headers(token), tags: tags || { name: path } });
}

/// Creates an event with one category (admin), unless EVENT_ID is given.
export function ensureEvent() {
  if (__ENV.EVENT_ID) return __ENV.EVENT_ID;
  const admin = __ENV.ADMIN_TOKEN;
  if (!admin) fail('set EVENT_ID, or ADMIN_TOKEN so the script can create an event');
  const ev = post('/events', { name: `k6 ${new Date().toISOString()}`, venue: 'k6 arena', starts_at: '2030-01-01T20:00:00Z' }, admin);
  check(ev, { 'event created': (r) => r.status === 201 }) || fail(`POST /events: ${ev.status} ${ev.body}`);
  const id = ev.json('id');
  const category = {
    name: CATEGORY, total_stock: parseInt(__ENV.STOCK || '500'), price: parseInt(__ENV.PRICE || '8900'), currency: 'EUR',
  };
  if ((__ENV.MAX_PER_USER || '4') !== '0') category.max_per_user = parseInt(__ENV.MAX_PER_USER || '4');
  const cat = post(`/events/${id}/ticket-category`, category, admin);
  check(cat, { 'category created': (r) => r.status === 201 }) || fail(`POST ticket-category: ${cat.status} ${cat.body}`);
  return id;
}

/// Buyer tokens: from USER_TOKENS, or made by signing up `count` accounts.
export function buyerTokens(count) {
  const given = __ENV.USER_TOKENS || TOKENS_FROM_FILE;
  if (given) return given.split(/[,\s]+/).filter((t) => t.length > 0);
  const tokens = [];
  const run = Date.now().toString(36);
  for (let i = 0; i < count; i++) {
    const email = `k6-${run}-${i}@example.com`;
    const password = 'k6-password-1';
    const u = post('/users', { name: `k6 buyer ${i}`, email, password });
    if (u.status !== 201) fail(`POST /users: ${u.status} ${u.body} (raise BOXOFFICE_RATE_SIGNUP_PER_MINUTE for rehearsals, or pass USER_TOKENS)`);
    const l = post('/auth/login', { email, password });
    if (l.status !== 200) fail(`POST /auth/login: ${l.status} ${l.body}`);
    tokens.push(l.json('access_token'));
  }
  return tokens;
}

export function availability(eventId) {
  const r = get(`/events/${eventId}/availability`, null, { name: '/events/{id}/availability' });
  const cat = (r.json('categories') || []).find((c) => c.name === CATEGORY);
  return cat || { total: 0, available: 0 };
}
