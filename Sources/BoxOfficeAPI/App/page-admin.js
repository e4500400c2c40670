// Operator: create an event, and add ticket categories to each event.
import { api, el, field, requireSignIn, session, when } from './main.js';

export async function render(main) {
  if (!requireSignIn()) return;
  main.append(el('h1', {}, 'Operator'));
  if (session().role !== 'admin') { main.append(el('p', { role: 'alert' }, 'This page is for operators (the admin role).')); return; }
  const name = field('Name', { type: 'text', required: true });
  const venue = field('Venue', { type: 'text', required: true });
  const starts = field('Starts at', { type: 'datetime-local', required: true });
  const alert = el('p', { role: 'alert' });
  const form = el('form', { class: 'card', novalidate: true, 'aria-label': 'New event' }, el('h2', {}, 'New event'),
    name.wrap, venue.wrap, starts.wrap, alert, el('button', { type: 'submit' }, 'Create event'));
  const list = el('div');
  main.append(form, el('h2', {}, 'Events'), list);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.textContent = '';
    if (!name.input.value.trim() || !venue.input.value.trim() || !starts.input.value) { alert.textContent = 'Name, venue and start are all needed.'; return; }
    try {
      await api('POST', '/events', { name: name.input.value.trim(), venue: venue.input.value.trim(), starts_at: new Date(starts.input.value).toISOString() });
      form.reset();
      await load();
    } catch (err) { alert.textContent = err.detail; }
  });

  async function load() {
    const page = await api('GET', '/events?limit=50');
    list.replaceChildren();
    for (const ev of page.items) {
      const category = field('Category', { type: 'text', required: true });
      const stock = field('Stock', { type: 'number', min: 1, required: true });
      const price = field('Price', { type: 'number', min: 0, step: '0.01', required: true });
      const catAlert = el('p', { role: 'alert' });
      const cats = el('p', { class: 'muted' }, ev.categories.length ? ev.categories.map((c) => `${c.name} (${c.total_stock})`).join(', ') : 'No categories yet.');
      const add = el('form', { class: 'card', novalidate: true, 'aria-label': ev.name },
        el('h2', {}, el('a', { href: `/app/admin/events/${encodeURIComponent(ev.id)}` }, ev.name)),
        el('p', { class: 'muted' }, `${ev.venue} · ${when(ev.starts_at)}`), cats,
        el('div', { class: 'row' }, category.wrap, stock.wrap, price.wrap), catAlert, el('button', { type: 'submit' }, 'Add category'));
      add.addEventListener('submit', async (e) => {
        e.preventDefault();
        catAlert.textContent = '';
        const total = Number(stock.input.value), cents = Math.round(Number(price.input.value) * 100);
        if (!category.input.value.trim()) { category.alert.textContent = 'Name the category.'; return; }
        if (!Number.isInteger(total) || total < 1) { stock.alert.textContent = 'Stock must be a whole number of at least 1.'; return; }
        if (!Number.isFinite(cents) || cents < 0) { price.alert.textContent = 'Price must be 0 or more.'; return; }
        try {
          await api('POST', `/events/${encodeURIComponent(ev.id)}/ticket-category`, { name: category.input.value.trim(), total_stock: total, price: cents });
          await load();
        } catch (err) { catAlert.textContent = err.detail; }
      });
      list.append(add);
    }
    if (!page.items.length) list.append(el('p', { class: 'muted' }, 'No events yet.'));
  }
  await load();
}
