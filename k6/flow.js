// A buyer's whole flow: reserve → confirm (payment simulation) → my bookings.
//   k6 run -e BASE_URL=... -e ADMIN_TOKEN=... k6/flow.js
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { textSummary } from './summary.js';
import { post, get, ensureEvent, buyerTokens, CATEGORY } from './lib.js';

http.setResponseCallback(http.expectedStatuses(200, 201, 402, 409, 429));

const confirmed = new Counter('reservations_confirmed');
const declined = new Counter('payments_declined');

export const options = {
  vus: parseInt(__ENV.VUS || '16'),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    'http_req_duration{name:/reserve}': ['p(95)<200'],
    'http_req_duration{name:/confirm}': ['p(95)<200'],
    'checks{check:no server error}': ['rate==1'],
    http_req_failed: ['rate<0.01'],
  },
  setupTimeout: '120s',
};

export function setup() {
  return { eventId: ensureEvent(), tokens: buyerTokens(parseInt(__ENV.BUYERS || '20')) };
}

export default function (data) {
  const token = data.tokens[(__VU + __ITER) % data.tokens.length];
  const r = post('/reserve', { event_id: data.eventId, category: CATEGORY, qty: 1 }, token, { 'Idempotency-Key': `flow-${__VU}-${__ITER}` }, { name: '/reserve' });
  check(r, { 'no server error': (res) => res.status > 0 && res.status < 500 });
  if (r.status !== 201) { sleep(0.2); return; }
  const id = r.json('reservation_id');
  const pay = (__ITER % 10) !== 9; // one payment in ten is declined
  const c = post('/confirm', { reservation_id: id, payment_ok: pay }, token, {}, { name: '/confirm' });
  check(c, {
    'no server error': (res) => res.status > 0 && res.status < 500,
    'confirmed or declined': (res) => (pay ? res.status === 200 : res.status === 402),
  });
  if (c.status === 200) {
    confirmed.add(1);
    console.log(`CONFIRMED ${id}`);
  } else if (c.status === 402) {
    declined.add(1);
    post(`/reservations/${id}/cancel`, {}, token, {}, { name: '/reservations/{id}/cancel' });
  }
  const b = get('/me/bookings?limit=5', token, { name: '/me/bookings' });
  check(b, { 'no server error': (res) => res.status > 0 && res.status < 500, 'bookings listed': (res) => res.status === 200 });
  sleep(0.05);
}

export function handleSummary(data) {
  const n = data.metrics.reservations_confirmed ? data.metrics.reservations_confirmed.values.count : 0;
  const out = { stdout: textSummary(data) + `\nflow: ${n} reservations confirmed\n` };
  if (__ENV.SUMMARY_JSON) {
    out[__ENV.SUMMARY_JSON] = JSON.stringify({ event_id: data.setup_data && data.setup_data.eventId, confirmed: n,
      confirm_p95_ms: data.metrics['http_req_duration{name:/confirm}'] ? data.metrics['http_req_duration{name:/confirm}'].values['p(95)'] : null }, null, 2);
  }
  return out;
}
