// Register: Name, Email, Password, checked here as the API checks them (name 1–100 characters,
// a valid email, password 8–72 bytes); the API's own answer is shown beside the field it names.
import { api, el, field, go, signIn } from './main.js';

export async function render(main) {
  main.append(el('h1', {}, 'Register'));
  const name = field('Name', { type: 'text', autocomplete: 'name', required: true, maxlength: 100 });
  const email = field('Email', { type: 'email', autocomplete: 'email', required: true });
  const password = field('Password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const alert = el('p', { role: 'alert' });
  const form = el('form', { class: 'card', novalidate: true }, name.wrap, email.wrap, password.wrap, alert, el('button', { type: 'submit' }, 'Register'));
  main.append(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const f of [name, email, password]) f.alert.textContent = '';
    alert.textContent = '';
    const n = name.input.value.trim(), m = email.input.value.trim(), p = password.input.value;
    const bytes = new TextEncoder().encode(p).length;
    let ok = true;
    if (n.length < 1 || n.length > 100) { name.alert.textContent = 'Name must be 1 to 100 characters.'; ok = false; }
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(m)) { email.alert.textContent = 'Enter a valid email address.'; ok = false; }
    if (bytes < 8 || bytes > 72) { password.alert.textContent = 'Password must be 8 to 72 bytes.'; ok = false; }
    if (!ok) return;
    try {
      await api('POST', '/users', { name: n, email: m, password: p });
      const t = await api('POST', '/auth/login', { email: m, password: p });
      signIn(t.access_token);
      go('/app/', true);
    } catch (err) {
      // The API names the field its detail concerns.
      const target = err.code === 'email_taken' || /^email/.test(err.detail) ? email
        : /^name/.test(err.detail) ? name : /^password/.test(err.detail) ? password : null;
      (target ? target.alert : alert).textContent = err.detail;
    }
  });
}
