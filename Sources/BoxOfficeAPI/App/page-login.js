// Log in: Email and Password; the token goes to sessionStorage, never into a URL.
import { api, el, field, go, signIn } from './main.js';

export async function render(main) {
  main.append(el('h1', {}, 'Log in'));
  const email = field('Email', { type: 'email', autocomplete: 'email', required: true });
  const password = field('Password', { type: 'password', autocomplete: 'current-password', required: true });
  const alert = el('p', { role: 'alert' });
  const form = el('form', { class: 'card', novalidate: true }, email.wrap, password.wrap, alert, el('button', { type: 'submit' }, 'Log in'),
    el('p', { class: 'muted' }, 'New here? ', el('a', { href: '/app/register' }, 'Register')));
  main.append(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.textContent = email.alert.textContent = password.alert.textContent = '';
    if (!email.input.value.includes('@')) { email.alert.textContent = 'Enter your email address.'; return; }
    if (!password.input.value) { password.alert.textContent = 'Enter your password.'; return; }
    try {
      const t = await api('POST', '/auth/login', { email: email.input.value.trim(), password: password.input.value });
      signIn(t.access_token);
      go(new URLSearchParams(location.search).get('next') || '/app/', true);
    } catch (err) { alert.textContent = err.detail; }
  });
}
