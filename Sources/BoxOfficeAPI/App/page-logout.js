// Log out: forgets the token and goes back to the events.
import { go, signOut } from './main.js';

export async function render() {
  signOut();
  go('/app/', true);
}
