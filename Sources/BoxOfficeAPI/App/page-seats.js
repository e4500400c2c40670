// The seat map of an event: each seated category's seats drawn in SVG (free ones can be picked by
// click or keyboard), Reserve the picked seats, or Best available for a quantity. The states are
// read again every 2 s, so seats others take turn grey while the page is open.
import { api, el, field, go, money, requireSignIn, reserveHeaders, session, when } from './main.js';

const SVG = 'http://www.w3.org/2000/svg';
const STEP = 24;  // px between seats and rows: each seat a touch target of 21 px

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

/** The states along a row from its runs, e.g. "2a1h" → "aah". */
function expand(runs) {
  let out = '';
  for (const m of runs.matchAll(/(\d+)([ahs])/g)) out += m[2].repeat(Number(m[1]));
  return out;
}

function labels(row) {
  return row.labels || Array.from({ length: row.count }, (_, i) => String(row.first + i));
}

export async function render(main, [id]) {
  const event = await api('GET', `/events/${encodeURIComponent(id)}`);
  main.append(el('h1', {}, `${event.name}: seats`), el('p', { class: 'muted' }, `${event.venue} · ${when(event.starts_at)}`));
  const status = el('p', { role: 'alert' });
  main.append(status);
  const seated = event.categories.filter((c) => c.seated);
  if (seated.length === 0) {
    main.append(el('p', {}, 'This event has no seat map. ', el('a', { href: `/app/events/${encodeURIComponent(id)}` }, 'See its tickets.')));
    return;
  }
  const views = new Map();  // category → { seats: Map(id → rect), picked: Set, alert }
  for (const c of seated) {
    const picked = new Set();
    const alert = el('p', { role: 'alert' });
    const count = el('span', { class: 'stock' }, '…');
    const pickedText = el('span', { 'aria-live': 'polite' }, 'No seats picked.');
    const reserve = el('button', { type: 'button', disabled: true }, 'Reserve picked seats');
    const qty = field('Quantity', { type: 'number', min: 1, max: 10, value: 2, required: true, inputmode: 'numeric' });
    const best = el('button', { type: 'button', class: 'secondary' }, 'Best available');
    const drawing = svg('svg', { role: 'group', 'aria-label': `Seats of ${c.name}`, class: 'seatmap' });
    const card = el('section', { class: 'card', 'aria-label': c.name },
      el('h2', {}, c.name),
      el('p', {}, money(c.price, c.currency), ' a seat · ', count, ' free'),
      el('p', { class: 'legend muted' }, el('span', { class: 'key free' }), ' free ', el('span', { class: 'key picked' }), ' picked ',
        el('span', { class: 'key taken' }), ' taken'),
      el('div', { class: 'scroll' }, drawing),
      el('p', {}, pickedText),
      el('div', { class: 'row' }, el('div', { class: 'field' }, reserve), qty.wrap, el('div', { class: 'field' }, best)),
      alert);
    main.append(card);
    const view = { seats: new Map(), picked, alert, count, drawing, built: false };
    views.set(c.name, view);

    function showPicked() {
      pickedText.textContent = picked.size ? `Picked: ${[...picked].join(', ')}` : 'No seats picked.';
      reserve.disabled = picked.size === 0;
    }
    function toggle(rect) {
      if (rect.dataset.state !== 'a') return;
      const seat = rect.dataset.seat;
      if (picked.has(seat)) picked.delete(seat);
      else if (picked.size >= 10) { alert.textContent = 'Pick at most 10 seats at a time.'; return; } else picked.add(seat);
      rect.classList.toggle('picked', picked.has(seat));
      rect.setAttribute('aria-checked', String(picked.has(seat)));
      alert.textContent = '';
      showPicked();
    }
    view.toggle = toggle;
    view.showPicked = showPicked;
    async function hold(body, button) {
      alert.textContent = '';
      if (!session()) { requireSignIn(); return; }
      button.disabled = true;
      try {
        const r = await api('POST', '/reserve', Object.assign({ event_id: event.id, category: c.name }, body), reserveHeaders(event.id));
        go(`/app/reservations/${encodeURIComponent(r.reservation_id)}`);
      } catch (err) {
        if (err.code === 'not_admitted') { go(`/app/events/${encodeURIComponent(event.id)}/queue`); return; }
        alert.textContent = err.code === 'seats_taken' ? `Taken meanwhile: ${err.detail}` : err.detail;
        await refresh();
      } finally { button.disabled = false; showPicked(); }
    }
    reserve.addEventListener('click', () => hold({ seats: [...picked] }, reserve));
    best.addEventListener('click', () => {
      const n = Number(qty.input.value);
      if (!Number.isInteger(n) || n < 1 || n > 10) { qty.alert.textContent = 'Choose between 1 and 10 seats.'; return; }
      qty.alert.textContent = '';
      hold({ qty: n, best_available: true }, best);
    });
  }

  /** Draws a category's map the first time, then only changes each seat's state. */
  function draw(view, category) {
    if (!view.built) {
      let y = 0, width = 0;
      for (const section of category.sections) {
        const title = svg('text', { x: 0, y: y + 12, class: 'section' });
        title.textContent = section.name;
        view.drawing.append(title);
        y += STEP + 4;
        for (const row of section.rows) {
          const name = svg('text', { x: 0, y: y + 15, class: 'rowname' });
          name.textContent = row.name;
          view.drawing.append(name);
          labels(row).forEach((label, i) => {
            const seat = `${section.name}-${row.name}-${label}`;
            const rect = svg('rect', { x: 30 + i * STEP, y, width: STEP - 3, height: STEP - 3, rx: 3, 'data-seat': seat,
                                      'aria-label': `Section ${section.name}, row ${row.name}, seat ${label}` });
            rect.addEventListener('click', () => view.toggle(rect));
            rect.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); view.toggle(rect); } });
            view.seats.set(seat, rect);
            view.drawing.append(rect);
            width = Math.max(width, 30 + (i + 1) * STEP);
          });
          y += STEP;
        }
        y += 6;
      }
      view.drawing.setAttribute('viewBox', `0 0 ${width} ${y}`);
      view.drawing.setAttribute('width', width);
      view.drawing.setAttribute('height', y);
      view.built = true;
    }
    const lost = [];
    for (const section of category.sections) {
      for (const row of section.rows) {
        const states = expand(row.states);
        labels(row).forEach((label, i) => {
          const seat = `${section.name}-${row.name}-${label}`;
          const rect = view.seats.get(seat);
          if (!rect || rect.dataset.state === states[i]) return;
          rect.dataset.state = states[i];
          const free = states[i] === 'a';
          rect.setAttribute('class', free ? (view.picked.has(seat) ? 'seat free picked' : 'seat free') : 'seat taken');
          if (free) { rect.setAttribute('tabindex', '0'); rect.setAttribute('role', 'checkbox'); rect.setAttribute('aria-checked', String(view.picked.has(seat))); }
          else { rect.removeAttribute('tabindex'); rect.setAttribute('role', 'img'); rect.removeAttribute('aria-checked'); }
          if (!free && view.picked.delete(seat)) lost.push(seat);
        });
      }
    }
    view.count.textContent = category.available;
    if (lost.length) { view.alert.textContent = `Taken meanwhile: ${lost.join(', ')}`; view.showPicked(); }
  }

  async function refresh() {
    try {
      const doc = await api('GET', `/events/${encodeURIComponent(id)}/seats`);
      for (const category of doc.categories) if (views.has(category.name)) draw(views.get(category.name), category);
      status.textContent = '';
    } catch (e) { status.textContent = e.detail; }
  }
  await refresh();
  const timer = setInterval(refresh, 2000);
  return () => clearInterval(timer);
}
