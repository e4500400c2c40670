// An availability read storm: everyone refreshes the seat map at once.
//   k6 run -e BASE_URL=... -e EVENT_ID=... k6/browse.js   (or ADMIN_TOKEN to create an event)
import { check } from 'k6';
import { textSummary } from './summary.js';
import { get, ensureEvent } from './lib.js';

export const options = {
  vus: parseInt(__ENV.VUS || '64'),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    'http_req_duration{name:/events/{id}/availability}': ['p(95)<100'],
    'checks{check:available}': ['rate==1'],
  },
};

export function setup() { return { eventId: ensureEvent() }; }

export default function (data) {
  const r = get(`/events/${data.eventId}/availability`, null, { name: '/events/{id}/availability' });
  check(r, { available: (res) => res.status === 200 && Array.isArray(res.json('categories')) });
}

export function handleSummary(data) {
  return { stdout: textSummary(data) + '\n' };
}
