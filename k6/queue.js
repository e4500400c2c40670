// An on-sale behind the waiting room: buyers join before the opening (the pre-queue), poll at
// the interval the API advises, and reserve and confirm once admitted.
//
// Each VU plays BUYERS / VUS buyers at once (most of a buyer's time is spent waiting), so a few
// hundred VUs rehearse thousands of buyers. Before joining, every buyer tries to reserve without
// admission: that must be refused (403 not_admitted).
//
// Environment (see lib.js for BASE_URL, ADMIN_TOKEN, USER_TOKENS, STOCK, MAX_PER_USER):
//   BUYERS        virtual buyers, default 1000 (needs as many tokens)
//   VUS           default 100
//   OPEN_IN       seconds from the start to the opening, default 10
//   RATE          admissions a minute, default 600
//   DURATION      how long buyers wait after the opening, default 40s
// Thresholds: admissions a minute within 10 % of RATE (measured by the server from the opening
// to the end), no reserve accepted without admission, no oversell, no 5xx.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { BASE_URL, CATEGORY, buyerTokens, ensureEvent, get, post } from './lib.js';

const BUYERS = parseInt(__ENV.BUYERS || '1000');
const VUS = parseInt(__ENV.VUS || '100');
const OPEN_IN = parseInt(__ENV.OPEN_IN || '10');
const RATE = parseInt(__ENV.RATE || '600');
const DURATION_S = parseInt((__ENV.DURATION || '40s').replace(/s$/, ''));

const reservedWithoutAdmission = new Counter('reserved_without_admission');
const admittedBuyers = new Counter('queue_buyers_admitted');
const confirmedBuyers = new Counter('queue_buyers_confirmed');
const oversold = new Counter('oversold');
const rateRatio = new Trend('queue_rate_ratio');
const serverErrors = new Rate('server_errors');

export const options = {
  scenarios: {
    buyers: { executor: 'per-vu-iterations', vus: VUS, iterations: 1, maxDuration: `${OPEN_IN + DURATION_S + 60}s` },
  },
  thresholds: {
    reserved_without_admission: ['count==0'],
    oversold: ['count==0'],
    queue_rate_ratio: ['avg>0.9', 'avg<1.1'],
    server_errors: ['rate==0'],
  },
};

export function setup() {
  const event = ensureEvent();
  const opensAt = new Date(Date.now() + OPEN_IN * 1000);
  const q = http.put(`${BASE_URL}/events/${event}/queue`, JSON.stringify({ opens_at: opensAt.toISOString(), admit_per_minute: RATE }),
    { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${__ENV.ADMIN_TOKEN}` } });
  check(q, { 'queue set': (r) => r.status === 200 }) || console.error(`PUT queue: ${q.status} ${q.body}`);
  const tokens = buyerTokens(BUYERS);
  if (tokens.length < BUYERS) console.warn(`only ${tokens.length} tokens for ${BUYERS} buyers`);
  return { event, tokens: tokens.slice(0, BUYERS), opensAt: opensAt.getTime(), ends: opensAt.getTime() + DURATION_S * 1000 };
}

function seen(r) {
  serverErrors.add(r.status >= 500);
  return r;
}

export default function (data) {
  const { event, tokens, ends } = data;
  // This VU's buyers, each with the time of its next step.
  const mine = [];
  for (let i = __VU - 1; i < tokens.length; i += VUS) mine.push({ token: tokens[i], next: Date.now(), state: 'new' });
  const reserveBody = { event_id: event, category: CATEGORY, qty: 1 };
  while (Date.now() < ends && mine.some((b) => b.state !== 'done')) {
    mine.sort((a, b) => a.next - b.next);
    const b = mine.find((x) => x.state !== 'done');
    const wait = (b.next - Date.now()) / 1000;
    if (wait > 0) sleep(Math.min(wait, (ends - Date.now()) / 1000));
    if (Date.now() >= ends) break;
    if (b.state === 'new') {
      const early = seen(post('/reserve', reserveBody, b.token, {}, { name: '/reserve (no admission)' }));
      if (early.status === 201) reservedWithoutAdmission.add(1);
      const j = seen(post(`/events/${event}/queue/join`, {}, b.token, {}, { name: '/events/{id}/queue/join' }));
      if (j.status === 202) {
        b.state = 'waiting';
        b.next = Date.now() + 1000 * j.json('poll_after_seconds');
      } else {
        b.next = Date.now() + 1000;  // not open yet, or rate limited: try again
      }
      continue;
    }
    const me = seen(get(`/events/${event}/queue/me`, b.token, { name: '/events/{id}/queue/me' }));
    if (me.status !== 200) { b.next = Date.now() + 1000; continue; }
    if (me.json('state') !== 'admitted') {
      b.next = Date.now() + 1000 * me.json('poll_after_seconds');
      continue;
    }
    admittedBuyers.add(1);
    const admission = { 'Admission-Token': me.json('admission_token') };
    const r = seen(post('/reserve', reserveBody, b.token, admission, { name: '/reserve (admitted)' }));
    if (r.status === 201) {
      const c = seen(post('/confirm', { reservation_id: r.json('reservation_id'), payment_ok: true }, b.token, {}, { name: '/confirm' }));
      if (c.status === 200) confirmedBuyers.add(1);
    }
    b.state = 'done';
  }
}

export function teardown(data) {
  const q = get(`/events/${data.event}/queue`).json();
  const minutes = (Math.min(Date.now(), data.ends + 5000) - data.opensAt) / 60000;
  // A lull's burst (two seconds' worth) may come on top of the pace.
  const expected = RATE * minutes + Math.max(1, Math.floor(RATE / 30));
  const full = q.waiting > 0 || q.admitted_total >= expected * 0.9;  // a line that ran dry says nothing of the pace
  rateRatio.add(full ? q.admitted_total / (RATE * minutes) : 1);
  const a = get(`/events/${data.event}/availability`).json();
  const cat = a.categories.find((c) => c.name === CATEGORY);
  if (cat.available < 0) oversold.add(1);
  console.log(`queue: ${q.admitted_total} admitted in ${minutes.toFixed(2)} min at ${RATE}/min (ratio ${(q.admitted_total / (RATE * minutes)).toFixed(3)}), ${q.waiting} still waiting; ${cat.total - cat.available} of ${cat.total} tickets taken`);
}
