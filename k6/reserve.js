// Ticket war: ramping virtual buyers race for one category.
// Prints the successes against the stock, and `oversold` (must be 0).
//   k6 run -e BASE_URL=... -e ADMIN_TOKEN=... k6/reserve.js
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { textSummary } from './summary.js';
import { post, ensureEvent, buyerTokens, availability, CATEGORY } from './lib.js';

const held = new Counter('tickets_held');
const soldOut = new Counter('sold_out_answers');

// Sold out, over the limit and rate limited are answers, not failures.
http.setResponseCallback(http.expectedStatuses(201, 409, 429));

const DURATION = __ENV.DURATION || '30s';
const VUS = parseInt(__ENV.VUS || '64');

export const options = {
  scenarios: {
    war: {
      executor: 'ramping-vus', startVUs: 1,
      stages: [{ duration: '20%', target: VUS }, { duration: '80%', target: VUS }].map((s) => ({ duration: scale(s.duration), target: s.target })),
    },
  },
  thresholds: {
    'http_req_duration{name:/reserve}': ['p(95)<200'],
    // Sold-out and limit answers are expected in a war; transport errors and 5xx are not.
    'checks{check:no server error}': ['rate==1'],
    http_req_failed: ['rate<0.01'],
  },
  setupTimeout: '120s',
};

function scale(fraction) {
  const total = parseDuration(DURATION);
  return `${Math.max(1, Math.round(total * parseFloat(fraction) / 100))}s`;
}
function parseDuration(d) { const m = /^(\d+)(s|m)$/.exec(d); return m ? parseInt(m[1]) * (m[2] === 'm' ? 60 : 1) : 30; }

export function setup() {
  const eventId = ensureEvent();
  const tokens = buyerTokens(parseInt(__ENV.BUYERS || '50'));
  const before = availability(eventId);
  return { eventId, tokens, stock: before.total, availableBefore: before.available };
}

export default function (data) {
  const token = data.tokens[(__VU * 7919 + __ITER) % data.tokens.length];
  const qty = 1 + ((__VU + __ITER) % 2);
  const r = post('/reserve', { event_id: data.eventId, category: CATEGORY, qty }, token, {}, { name: '/reserve' });
  check(r, {
    'no server error': (res) => res.status > 0 && res.status < 500,
    'answered as the contract says': (res) => [201, 409, 429].includes(res.status),
  });
  if (r.status === 201) held.add(qty);
  if (r.status === 409 && r.json('code') === 'sold_out') soldOut.add(1);
}

export function teardown(data) {
  const after = availability(data.eventId);
  data.availableAfter = after.available;
  data.heldOrSold = after.total - after.available;
  console.log(JSON.stringify({ event_id: data.eventId, stock: after.total, available: after.available }));
}

export function handleSummary(data) {
  const heldTickets = data.metrics.tickets_held ? data.metrics.tickets_held.values.count : 0;
  const stock = data.setup_data ? data.setup_data.stock : 0;
  const startedWith = data.setup_data ? data.setup_data.availableBefore : 0;
  const oversold = Math.max(0, heldTickets - startedWith);
  const report = {
    event_id: data.setup_data && data.setup_data.eventId, stock, tickets_held: heldTickets, oversold,
    reserve_p95_ms: data.metrics['http_req_duration{name:/reserve}'] ? data.metrics['http_req_duration{name:/reserve}'].values['p(95)'] : null,
    requests: data.metrics.http_reqs ? data.metrics.http_reqs.values.count : 0,
  };
  const line = `ticket war: ${heldTickets} tickets held of ${startedWith} available (stock ${stock}); oversold=${oversold}\n`;
  const out = { stdout: textSummary(data) + '\n' + line };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(report, null, 2);
  return out;
}
