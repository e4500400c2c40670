// Checkout: the hold with its countdown to expires_at, Pay (with a "Payment fails" switch for the
// simulation) and Cancel; a clear state once paid, cancelled or expired.
import { api, el, money, requireSignIn } from './main.js';

export async function render(main, [id]) {
  if (!requireSignIn()) return;
  let r = await api('GET', `/reservations/${encodeURIComponent(id)}`);
  main.append(el('h1', {}, 'Checkout'));
  main.append(el('div', { class: 'card' },
    el('p', {}, `${r.qty} × ${r.category} · event ${r.event_id}`),
    r.seats ? el('p', {}, `Seats: ${r.seats.join(', ')}`) : null,
    el('p', {}, 'Total: ', el('strong', {}, money(r.amount, r.currency)))));
  const clock = el('p', { class: 'countdown', 'aria-live': 'off' });
  const state = el('p', { 'aria-live': 'polite' });
  const alert = el('p', { role: 'alert' });
  const failsId = 'payment-fails';
  const fails = el('input', { type: 'checkbox', id: failsId });
  const pay = el('button', { type: 'button' }, 'Pay');
  const cancel = el('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const controls = el('div', { class: 'card' },
    el('div', { class: 'field check' }, fails, el('label', { for: failsId }, 'Payment fails')),
    el('div', { class: 'row' }, pay, cancel));
  main.append(clock, state, alert, controls);

  let timer = null;
  function settle(status) {
    if (timer) { clearInterval(timer); timer = null; }
    controls.hidden = true;
    clock.textContent = '';
    const text = { confirmed: 'Paid. Your booking is confirmed.', cancelled: 'Cancelled. The tickets are back on sale.',
                   expired: 'This hold has expired: the tickets went back on sale. Reserve again to buy them.' }[status];
    state.replaceChildren(el('strong', { class: status === 'confirmed' ? 'ok' : '' }, text), ' ', el('a', { href: '/app/bookings' }, 'My bookings'));
  }
  function tick() {
    const left = Math.max(0, Math.round((Date.parse(r.expires_at) - Date.now()) / 1000));
    clock.textContent = `${String(Math.floor(left / 60)).padStart(2, '0')}:${String(left % 60).padStart(2, '0')}`;
    clock.setAttribute('aria-label', `${left} seconds left to pay`);
    if (left === 0) settle('expired');
  }
  if (r.status !== 'held') { settle(r.status); return; }
  state.textContent = 'Held for you until the timer runs out.';
  tick();
  timer = setInterval(tick, 1000);

  pay.addEventListener('click', async () => {
    alert.textContent = '';
    pay.disabled = cancel.disabled = true;
    try {
      r = await api('POST', '/confirm', { reservation_id: id, payment_ok: !fails.checked });
      settle('confirmed');
    } catch (e) {
      if (e.code === 'payment_failed') alert.textContent = `Payment failed: ${e.detail} You can try again before the timer runs out.`;
      else if (e.code === 'expired') settle('expired');
      else alert.textContent = e.detail;
    } finally { pay.disabled = cancel.disabled = false; }
  });
  cancel.addEventListener('click', async () => {
    alert.textContent = '';
    try { await api('POST', `/reservations/${encodeURIComponent(id)}/cancel`); settle('cancelled'); } catch (e) { alert.textContent = e.detail; }
  });
  return () => { if (timer) clearInterval(timer); };
}
