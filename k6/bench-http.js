// HTTP benchmark: GET /health, then POST /reserve, at the same concurrency in
// one run, so the ratio compares like with like. Used by scripts/bench-http.sh.
import http from 'k6/http';
import { check } from 'k6';
import { post, get, buyerTokens } from './lib.js';

http.setResponseCallback(http.expectedStatuses(200, 201, 409));
const VUS = parseInt(__ENV.VUS || '64');
const SECONDS = parseInt(__ENV.SECONDS || '15');

export const options = {
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
  scenarios: {
    health: { executor: 'constant-vus', vus: VUS, duration: `${SECONDS}s`, exec: 'health' },
    reserve: { executor: 'constant-vus', vus: VUS, duration: `${SECONDS}s`, startTime: `${SECONDS + 2}s`, exec: 'reserve' },
  },
  thresholds: { 'http_reqs{name:health}': ['count>=0'], 'http_reqs{name:reserve}': ['count>=0'],
    'http_req_duration{name:health}': ['p(99)>=0'], 'http_req_duration{name:reserve}': ['p(99)>=0'] },
};

export function setup() {
  return { tokens: buyerTokens(0), eventId: __ENV.EVENT_ID };
}

export function health() {
  const r = get('/health', null, { name: 'health' });
  check(r, { ok: (res) => res.status === 200 });
}

export function reserve(data) {
  const token = data.tokens[(__VU * 131 + __ITER) % data.tokens.length];
  const r = post('/reserve', { event_id: data.eventId, category: 'floor', qty: 1 }, token, {}, { name: 'reserve' });
  check(r, { held: (res) => res.status === 201 });
}

export function handleSummary(data) {
  const d = (n) => data.metrics[`http_req_duration{name:${n}}`];
  const reqs = (n) => (data.metrics[`http_reqs{name:${n}}`] || { values: { count: 0 } }).values.count;
  const out = {};
  for (const n of ['health', 'reserve']) {
    const t = d(n) ? d(n).values : {};
    out[n] = { requests: reqs(n), per_second: reqs(n) / SECONDS, p50_ms: t.med, p99_ms: t['p(99)'] };
  }
  out.ratio = out.health.per_second ? out.reserve.per_second / out.health.per_second : 0;
  return { stdout: JSON.stringify(out) + '\n' };
}
