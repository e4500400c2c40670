// The waiting room of an event: Join the queue, then position, ETA and a progress bar, polled
// at the interval the API advises; once admitted, the admission token is kept for this tab and
// the buyer goes straight to the event page to reserve.
import { api, el, go, requireSignIn } from './main.js';

export async function render(main, [id]) {
  if (!requireSignIn()) return;
  const event = await api('GET', `/events/${encodeURIComponent(id)}`);
  main.append(el('h1', {}, `Waiting room: ${event.name}`));
  let room;
  try { room = await api('GET', `/events/${encodeURIComponent(id)}/queue`); } catch (e) {
    if (e.status !== 404) throw e;
    main.append(el('p', {}, 'This event has no waiting room. ', el('a', { href: `/app/events/${encodeURIComponent(id)}` }, 'Go to the event')));
    return;
  }
  const status = el('p', { 'aria-live': 'polite' }, `Opens ${new Date(room.opens_at).toLocaleString()}; ${room.waiting} waiting.`);
  const progress = el('progress', { max: 100, value: 0, 'aria-label': 'Your progress to the front' });
  const alert = el('p', { role: 'alert' });
  const join = el('button', { type: 'button' }, 'Join the queue');
  main.append(el('div', { class: 'card' }, status, progress, alert, join));
  let timer = null, first = null;

  function showPlace(p) {
    if (p.state === 'admitted') {
      sessionStorage.setItem(`boxoffice.admission.${id}`, p.admission_token);
      status.textContent = "It's your turn. Taking you to the tickets…";
      progress.value = 100;
      go(`/app/events/${encodeURIComponent(id)}`);
      return;
    }
    if (p.state === 'expired') {
      status.textContent = 'Your turn has passed. Join the queue again to get a new place.';
      join.hidden = false;
      return;
    }
    first = first || p.position;
    progress.value = Math.round(100 * (first - p.position + 1) / first);
    const eta = p.eta_seconds >= 120 ? `about ${Math.round(p.eta_seconds / 60)} minutes` : `about ${p.eta_seconds} seconds`;
    status.textContent = `You are number ${p.position} in line; your turn comes in ${eta}.`;
    timer = setTimeout(poll, Math.max(1, p.poll_after_seconds) * 1000);
  }
  async function poll() {
    try { showPlace(await api('GET', `/events/${encodeURIComponent(id)}/queue/me`)); } catch (e) {
      alert.textContent = e.detail;
      timer = setTimeout(poll, 5000);
    }
  }
  join.addEventListener('click', async () => {
    alert.textContent = '';
    try { join.hidden = true; showPlace(await api('POST', `/events/${encodeURIComponent(id)}/queue/join`)); } catch (e) {
      join.hidden = false;
      alert.textContent = e.code === 'queue_not_open' ? `The waiting room is not open yet. ${e.detail}` : e.detail;
    }
  });
  // A reload keeps the place: if the buyer has one, show it.
  try { showPlace(await api('GET', `/events/${encodeURIComponent(id)}/queue/me`)); join.hidden = true; } catch (e) { if (e.status !== 404) alert.textContent = e.detail; }
  return () => { if (timer) clearTimeout(timer); };
}
