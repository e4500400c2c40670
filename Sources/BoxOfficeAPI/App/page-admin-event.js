// The on-sale view of one event: available / held / confirmed per category, and reserves and
// confirms per second, from GET /events/{id}/stock every second.
import { api, el, requireSignIn } from './main.js';

export async function render(main, [id]) {
  if (!requireSignIn()) return;
  const event = await api('GET', `/events/${encodeURIComponent(id)}`);
  main.append(el('h1', {}, `On sale: ${event.name}`));
  const rates = el('p', { class: 'stock', 'aria-live': 'off' }, 'Reserves … /s · confirms … /s');
  const body = el('tbody');
  const alert = el('p', { role: 'alert' });
  const grafana = `${location.protocol}//${location.hostname}:3000/d/boxoffice`;
  main.append(alert, rates,
    el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, el('tr', {}, ['Category', 'Total', 'Available', 'Held', 'Confirmed'].map((h) => el('th', { scope: 'col' }, h)))), body)),
    el('p', {}, el('a', { href: grafana }, 'Grafana dashboard'), ' · ', el('a', { href: '/metrics' }, 'Metrics')));
  let last = null;
  async function refresh() {
    try {
      const s = await api('GET', `/events/${encodeURIComponent(id)}/stock`);
      body.replaceChildren(...s.categories.map((c) => el('tr', {}, el('td', {}, c.name), el('td', {}, c.total),
        el('td', {}, c.available), el('td', {}, c.held), el('td', {}, c.confirmed))));
      const taken = s.categories.reduce((n, c) => n + c.held + c.confirmed, 0);
      const confirmed = s.categories.reduce((n, c) => n + c.confirmed, 0);
      const now = Date.now();
      if (last) {
        const dt = (now - last.at) / 1000;
        // Tickets newly taken (held or bought) and newly confirmed per second since the last read.
        rates.textContent = `Reserves ${Math.max(0, (taken - last.taken) / dt).toFixed(1)} /s · confirms ${Math.max(0, (confirmed - last.confirmed) / dt).toFixed(1)} /s`;
      }
      last = { at: now, taken, confirmed };
      alert.textContent = '';
    } catch (e) { alert.textContent = e.detail; }
  }
  await refresh();
  const timer = setInterval(refresh, 1000);
  return () => clearInterval(timer);
}
