// Seat war: buyers pick seats (aimed at a small hot block, so they collide on purpose) or ask for
// the best 1–6 available; half the holds are paid for, a fifth of those refunded, some cancelled.
// At the end the seats document must add up: every seat in exactly one state, the counts equal
// to the category's stock, nothing oversold.
//   k6 run -e BASE_URL=... -e ADMIN_TOKEN=... k6/seats.js
// Environment (besides lib.js's): ROWS (20), WIDTH (25): the map's size; DURATION (30s); VUS (32).
import http from 'k6/http';
import { check, fail } from 'k6';
import { Counter } from 'k6/metrics';
import { textSummary } from './summary.js';
import { post, get, buyerTokens } from './lib.js';

const held = new Counter('seats_held');
const taken = new Counter('seats_taken_answers');
const splits = new Counter('best_available_split');
const refunds = new Counter('refunds');

http.setResponseCallback(http.expectedStatuses(200, 201, 409, 429));

const ROWS = parseInt(__ENV.ROWS || '20');
const WIDTH = parseInt(__ENV.WIDTH || '25');
const CATEGORY = 'stalls';

export const options = {
  scenarios: { war: { executor: 'constant-vus', vus: parseInt(__ENV.VUS || '32'), duration: __ENV.DURATION || '30s' } },
  thresholds: {
    'http_req_duration{name:/reserve seats}': ['p(99)<250'],
    'checks{check:no server error}': ['rate==1'],
    'checks{check:seats add up}': ['rate==1'],
    'checks{check:picked seats as asked}': ['rate==1'],
    http_req_failed: ['rate<0.01'],
  },
  setupTimeout: '120s',
};

export function setup() {
  const admin = __ENV.ADMIN_TOKEN;
  if (!admin) fail('set ADMIN_TOKEN: the script creates a seated event');
  const ev = post('/events', { name: `k6 seats ${new Date().toISOString()}`, venue: 'k6 hall', starts_at: '2030-01-01T20:00:00Z' }, admin);
  if (ev.status !== 201) fail(`POST /events: ${ev.status} ${ev.body}`);
  const eventId = ev.json('id');
  const cat = post(`/events/${eventId}/ticket-category`, { name: CATEGORY, total_stock: 1, price: 7900, currency: 'EUR' }, admin);
  if (cat.status !== 201) fail(`POST ticket-category: ${cat.status} ${cat.body}`);
  const rows = [];
  for (let r = 1; r <= ROWS; r++) rows.push({ name: `${r}`, seats: Array.from({ length: WIDTH }, (_, i) => `${i + 1}`), x: 0, y: r * 10 });
  const map = http.put(`${__ENV.BASE_URL || 'http://127.0.0.1:8080'}/events/${eventId}/categories/${CATEGORY}/seats`,
    JSON.stringify({ sections: [{ name: 'Stalls', rows }] }),
    { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin}` }, tags: { name: '/events/{id}/categories/{name}/seats' } });
  if (map.status !== 200) fail(`PUT seats: ${map.status} ${map.body}`);
  return { eventId, tokens: buyerTokens(parseInt(__ENV.BUYERS || '50')) };
}

export default function (data) {
  const token = data.tokens[(__VU * 7919 + __ITER) % data.tokens.length];
  let body;
  let picked = null;
  if (__ITER % 3 === 0) {
    // Two or three seats side by side in the front row's middle: a deliberate crowd.
    const n = 2 + (__VU % 2);
    const start = 1 + Math.floor(Math.random() * 8) + Math.floor(WIDTH / 2) - 6;
    picked = Array.from({ length: n }, (_, i) => `Stalls-1-${Math.max(1, Math.min(WIDTH, start + i))}`);
    picked = [...new Set(picked)];
    body = { event_id: data.eventId, category: CATEGORY, seats: picked };
  } else {
    body = { event_id: data.eventId, category: CATEGORY, qty: 1 + (__ITER % 6), best_available: true };
  }
  const r = post('/reserve', body, token, {}, { name: '/reserve seats' });
  check(r, { 'no server error': (res) => res.status > 0 && res.status < 500 });
  if (r.status === 409 && r.json('code') === 'seats_taken') taken.add(1);
  if (r.status !== 201) return;
  const seats = r.json('seats') || [];
  held.add(seats.length);
  if (picked) check(r, { 'picked seats as asked': () => JSON.stringify(seats) === JSON.stringify(picked) });
  else if (!adjacent(seats)) splits.add(1);
  const id = r.json('reservation_id');
  if (__ITER % 2 === 0) {
    const c = post('/confirm', { reservation_id: id, payment_ok: true }, token, {}, { name: '/confirm' });
    check(c, { 'no server error': (res) => res.status < 500 });
    if (c.status === 200 && __ITER % 10 === 0) {
      const f = post(`/reservations/${id}/refund`, {}, token, {}, { name: '/reservations/{id}/refund' });
      check(f, { 'no server error': (res) => res.status < 500 });
      if (f.status === 200) refunds.add(1);
    }
  } else if (__ITER % 5 === 1) {
    post(`/reservations/${id}/cancel`, {}, token, {}, { name: '/reservations/{id}/cancel' });
  }
}

// Seats `Section-row-label` all in one row with consecutive labels.
function adjacent(seats) {
  const parts = seats.map((s) => s.split('-'));
  const row = parts[0].slice(0, -1).join('-');
  const labels = parts.map((p) => parseInt(p[p.length - 1])).sort((a, b) => a - b);
  return parts.every((p) => p.slice(0, -1).join('-') === row) && labels.every((l, i) => i === 0 || l === labels[i - 1] + 1);
}

export function teardown(data) {
  const r = get(`/events/${data.eventId}/seats`, null, { name: '/events/{id}/seats' });
  const cat = (r.json('categories') || []).find((c) => c.name === CATEGORY);
  const counts = { a: 0, h: 0, s: 0 };
  for (const section of (cat && cat.sections) || []) {
    for (const row of section.rows) {
      let n = 0;
      for (const m of row.states.matchAll(/(\d+)([ahs])/g)) { counts[m[2]] += parseInt(m[1]); n += parseInt(m[1]); }
      if (n !== row.count) counts.bad = (counts.bad || 0) + 1;
    }
  }
  const ok = cat && !counts.bad && counts.a === cat.available && counts.h === cat.held && counts.s === cat.sold
    && counts.a + counts.h + counts.s === ROWS * WIDTH && cat.total === ROWS * WIDTH;
  check(r, { 'seats add up': () => ok });
  console.log(JSON.stringify({ event_id: data.eventId, seats: ROWS * WIDTH, available: counts.a, held: counts.h, sold: counts.s }));
}

export function handleSummary(data) {
  const v = (name) => (data.metrics[name] ? data.metrics[name].values.count : 0);
  const p99 = data.metrics['http_req_duration{name:/reserve seats}'];
  const line = `seat war: ${v('seats_held')} seats held, ${v('seats_taken_answers')} seats_taken answers, `
    + `${v('best_available_split')} best-available holds split over rows, ${v('refunds')} refunds; `
    + `reserve p99 ${p99 ? p99.values['p(99)'].toFixed(1) : '?'} ms\n`;
  return { stdout: textSummary(data) + '\n' + line };
}
