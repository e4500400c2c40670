// My bookings, from PostgreSQL (GET /me/bookings), 20 at a time.
import { api, el, money, requireSignIn, when } from './main.js';

export async function render(main) {
  if (!requireSignIn()) return;
  main.append(el('h1', {}, 'My bookings'));
  const body = el('tbody');
  const table = el('table', {}, el('thead', {}, el('tr', {}, ['Event', 'Category', 'Qty', 'Amount', 'Status', 'Booked'].map((h) => el('th', { scope: 'col' }, h)))), body);
  const more = el('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  const alert = el('p', { role: 'alert' });
  main.append(alert, el('div', { class: 'scroll' }, table), el('p', {}, more));
  let cursor = null;
  async function load() {
    try {
      const page = await api('GET', `/me/bookings?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const b of page.items) {
        body.append(el('tr', {}, el('td', {}, b.event_id), el('td', {}, b.category, b.seats ? el('br') : null, b.seats ? el('small', {}, b.seats.join(', ')) : null), el('td', {}, b.qty),
          el('td', {}, money(b.amount, b.currency)), el('td', {}, b.status), el('td', {}, when(b.created_at))));
      }
      if (!body.children.length) body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No bookings yet. A reservation appears here within a second or two.')));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (e) { alert.textContent = e.detail; }
  }
  more.addEventListener('click', load);
  await load();
}
