/** Names for user ids on a page: an admin sees every user's name; others see their own and a number for the rest. */
import type { Actor } from '../../services/auth.js';
import type { ConsoleDeps } from './context.js';

export async function userNames(deps: ConsoleDeps, actor: Actor): Promise<(id: number | null) => string> {
  const names = new Map<number, string>([[actor.id, actor.username]]);
  if (actor.role === 'admin') for (const user of await deps.auth.listUsers()) names.set(user.id, user.username);
  return (id) => (id === null ? '—' : (names.get(id) ?? `user #${id}`));
}
