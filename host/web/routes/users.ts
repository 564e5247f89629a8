/** The REST routers of sessions, users and API tokens (account-routes.ts describes their routes). */
import { assertAdmin } from '../../services/access.js';
import { publicUser } from '../../services/auth.js';
import { currentToken, requireActor, SESSION_COOKIE } from '../middleware.js';
import type { ApiDeps } from './deps.js';
import { objectBody, pathId } from './request.js';
import type { DocumentedRouter } from './spec.js';

/** Login, logout and who the caller is. */
export function mountAuthRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'auth'>): void {
  r.post('/auth/login', async (ctx) => {
    const { username, password } = objectBody(ctx);
    const session = await deps.auth.login(username, password, ctx.ip);
    ctx.cookies.set(SESSION_COOKIE, session.token, { httpOnly: true, sameSite: 'lax', expires: session.expiresAt });
    ctx.body = { token: session.token, user: session.user, expiresAt: session.expiresAt };
  });
  r.post('/auth/logout', async (ctx) => {
    requireActor(ctx);
    await deps.auth.logout(currentToken(ctx)!);
    ctx.cookies.set(SESSION_COOKIE, null);
    ctx.status = 204;
  });
  r.get('/auth/me', (ctx) => {
    ctx.body = requireActor(ctx);
  });
}

/** User accounts (admins only) and the caller's own API tokens. */
export function mountUserRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'auth'>): void {
  r.get('/users', async (ctx) => {
    assertAdmin(requireActor(ctx));
    ctx.body = (await deps.auth.listUsers()).map(publicUser);
  });
  r.post('/users', async (ctx) => {
    const actor = requireActor(ctx);
    assertAdmin(actor);
    const input = objectBody(ctx);
    ctx.status = 201;
    ctx.body = publicUser(await deps.auth.createUser(actor, input));
  });
  r.patch('/users/:id', async (ctx) => {
    const actor = requireActor(ctx);
    assertAdmin(actor);
    const userId = pathId(ctx);
    ctx.body = publicUser(await deps.auth.updateUser(actor, userId, objectBody(ctx), userId === actor.id ? currentToken(ctx) : undefined));
  });
  r.delete('/users/:id', async (ctx) => {
    const actor = requireActor(ctx);
    assertAdmin(actor);
    await deps.auth.deleteUser(actor, pathId(ctx));
    ctx.status = 204;
  });

  r.get('/tokens', async (ctx) => {
    const tokens = await deps.auth.listApiTokens(requireActor(ctx));
    ctx.body = tokens.map(({ tokenHash: _hash, ...t }) => t);
  });
  r.post('/tokens', async (ctx) => {
    const { name, ttlDays } = objectBody(ctx);
    const { token, record } = await deps.auth.createApiToken(requireActor(ctx), name, ttlDays);
    const { tokenHash: _hash, ...shown } = record;
    ctx.status = 201;
    ctx.body = { ...shown, token };
  });
  r.delete('/tokens/:id', async (ctx) => {
    const tokenId = pathId(ctx);
    await deps.auth.deleteToken(requireActor(ctx), tokenId);
    ctx.status = 204;
  });
}
