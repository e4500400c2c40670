// One event: its categories with price and tickets left (refreshed every 2 s from the API's
// micro-cached availability), a Quantity input and a Reserve button per category (for a seated
// one, the best available seats, and a link to the seat map).
import { api, el, field, go, money, requireSignIn, reserveHeaders, session, when } from './main.js';

export async function render(main, [id]) {
  const event = await api('GET', `/events/${encodeURIComponent(id)}`);
  main.append(el('h1', {}, event.name), el('p', { class: 'muted' }, `${event.venue} · ${when(event.starts_at)}`));
  const status = el('p', { role: 'alert' });
  main.append(status);
  if (event.categories.length === 0) main.append(el('p', { class: 'muted' }, 'No tickets on sale yet.'));
  const counts = new Map();
  for (const c of event.categories) {
    const count = el('span', { class: 'stock' }, '…');
    counts.set(c.name, count);
    const qty = field('Quantity', { type: 'number', min: 1, max: 10, value: 1, required: true, inputmode: 'numeric' });
    const button = el('button', { type: 'submit' }, 'Reserve');
    const form = el('form', { class: 'card', 'aria-label': c.name },
      el('h2', {}, c.name),
      el('p', {}, money(c.price, c.currency), ' · ', count, ' left'),
      c.seated ? el('p', {}, el('a', { href: `/app/events/${encodeURIComponent(event.id)}/seats` }, 'Choose seats on the map'),
        ' or reserve the best available:') : null,
      el('div', { class: 'row' }, qty.wrap, el('div', { class: 'field' }, button)));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      qty.alert.textContent = '';
      const n = Number(qty.input.value);
      if (!Number.isInteger(n) || n < 1 || n > 10) { qty.alert.textContent = 'Choose between 1 and 10 tickets.'; return; }
      if (!session()) { requireSignIn(); return; }
      button.disabled = true;
      try {
        const r = await api('POST', '/reserve', { event_id: event.id, category: c.name, qty: n }, reserveHeaders(event.id));
        go(`/app/reservations/${encodeURIComponent(r.reservation_id)}`);
      } catch (err) {
        if (err.code === 'not_admitted') { go(`/app/events/${encodeURIComponent(event.id)}/queue`); return; }
        qty.alert.textContent = err.code === 'sold_out' ? `Sold out. ${err.detail}`
          : err.code === 'limit_exceeded' ? `Limit reached. ${err.detail}` : err.detail;
      } finally { button.disabled = false; }
    });
    main.append(form);
  }
  async function refresh() {
    try {
      const a = await api('GET', `/events/${encodeURIComponent(id)}/availability`);
      for (const c of a.categories) if (counts.has(c.name)) counts.get(c.name).textContent = c.available;
      status.textContent = '';
    } catch (e) { status.textContent = e.detail; }
  }
  await refresh();
  const timer = setInterval(refresh, 2000);
  return () => clearInterval(timer);
}
