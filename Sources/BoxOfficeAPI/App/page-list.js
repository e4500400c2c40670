// The on-sale list: every event with its tickets left, refreshed every 5 s.
import { api, el, when } from './main.js';

export async function render(main) {
  main.append(el('h1', {}, 'On sale'));
  const list = el('div', { class: 'grid' });
  const status = el('p', { role: 'alert' });
  main.append(status, list);
  const more = el('button', { type: 'button', class: 'secondary', hidden: true }, 'More events');
  main.append(el('p', {}, more));
  const left = new Map();
  let cursor = null;
  async function load() {
    const page = await api('GET', `/events?limit=24${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (page.items.length === 0 && left.size === 0) list.append(el('p', { class: 'muted' }, 'No events yet.'));
    for (const e of page.items) show(e);
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', async () => { await load(); await refresh(); });
  function show(e) {
    const count = el('span', { class: 'stock' }, '…');
    left.set(e.id, count);
    list.append(el('article', { class: 'card' },
      el('h2', {}, el('a', { href: `/app/events/${encodeURIComponent(e.id)}` }, e.name)),
      el('p', { class: 'muted' }, `${e.venue} · ${when(e.starts_at)}`),
      el('p', {}, count, ' tickets left')));
  }
  await load();
  async function refresh() {
    try {
      await Promise.all([...left].map(async ([id, count]) => {
        const a = await api('GET', `/events/${encodeURIComponent(id)}/availability`);
        count.textContent = a.categories.reduce((n, c) => n + c.available, 0);
      }));
      status.textContent = '';
    } catch (e) { status.textContent = e.detail; }
  }
  await refresh();
  const timer = setInterval(refresh, 5000);
  return () => clearInterval(timer);
}
