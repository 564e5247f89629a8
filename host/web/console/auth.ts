/** Signing in and out of the console: the same login and sessions as POST /api/v1/auth/login and /logout. */
import type Router from '@koa/router';
import { HostError } from '../../errors/index.js';
import { SESSION_COOKIE } from '../middleware.js';
import { actorOf } from './guard.js';
import { formOf, type ConsoleContext } from './context.js';
import { done } from './page.js';

/** Only a path of this console: never another site, nor `//host`. */
function localPath(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s]*$/.test(next) && next.length < 1000 ? next : '/';
}

export function mountAuthPages(router: Router, { deps, pages }: ConsoleContext): void {
  router.get('/login', (ctx) => {
    if (actorOf(ctx)) return ctx.redirect(localPath(ctx.query.next));
    pages.show(ctx, 'login', 'Sign in', { next: localPath(ctx.query.next) === '/' ? '' : localPath(ctx.query.next), errors: {} });
  });
  router.post('/login', async (ctx) => {
    const form = formOf(ctx);
    const next = localPath(ctx.query.next);
    try {
      const session = await deps.auth.login(form.username, form.password, ctx.ip);
      ctx.cookies.set(SESSION_COOKIE, session.token, { httpOnly: true, sameSite: 'lax', expires: session.expiresAt, overwrite: true });
      ctx.redirect(next);
    } catch (err) {
      if (!(err instanceof HostError) || !['UNAUTHORIZED', 'BAD_REQUEST', 'TOO_MANY_REQUESTS'].includes(err.code)) throw err;
      const status = err.code === 'TOO_MANY_REQUESTS' ? 429 : err.code === 'BAD_REQUEST' ? 400 : 401;
      pages.show(ctx, 'login', 'Sign in', { next: next === '/' ? '' : next, username: form.username, errors: { _form: err.message } }, status);
    }
  });
  router.post('/logout', async (ctx) => {
    const token = ctx.cookies.get(SESSION_COOKIE);
    if (token && actorOf(ctx)) await deps.auth.logout(token);
    ctx.cookies.set(SESSION_COOKIE, null);
    done(ctx, 'You are signed out.', '/login');
  });
}
