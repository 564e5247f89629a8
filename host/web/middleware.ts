/**
 * The cross-cutting koa middleware: one error mapper (internal messages never reach clients), a small JSON body
 * reader with a size limit, and authentication by bearer token or session cookie.
 */
import type { Context, Next } from 'koa';
import { HostError, badRequest, tooLarge, unauthorized, type ErrorCode } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { Actor, AuthService } from '../services/auth.js';

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  UNPROCESSABLE: 422,
  DUPLICATE_FIRE: 409,
  LEASE_LOST: 503,
  INTERNAL: 500,
};

export const SESSION_COOKIE = 'jc_session';

export function errorMapper(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: { code: 'NOT_FOUND', message: `no route for ${ctx.method} ${ctx.path}` } };
      }
    } catch (err) {
      if (err instanceof HostError) {
        ctx.status = STATUS[err.code];
        ctx.body = { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
        return;
      }
      const status = (err as { status?: number }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        ctx.status = status;
        ctx.body = { error: { code: 'BAD_REQUEST', message: (err as Error).message } };
        return;
      }
      logger.error('request failed', { method: ctx.method, path: ctx.path, error: (err as Error)?.stack ?? String(err) });
      ctx.status = 500;
      ctx.body = { error: { code: 'INTERNAL', message: 'internal error; the host log has the details' } };
    }
  };
}

/** Reads a JSON body (up to limitBytes) into ctx.request.body; other content types are left alone. */
export function jsonBody(limitBytes = 1024 * 1024) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (['POST', 'PUT', 'PATCH'].includes(ctx.method) && ctx.is('application/json')) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of ctx.req) {
        size += (chunk as Buffer).length;
        if (size > limitBytes) throw tooLarge(`request body is over ${limitBytes} bytes`);
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        (ctx.request as unknown as { body: unknown }).body = text.trim() === '' ? undefined : JSON.parse(text);
      } catch (err) {
        throw badRequest(`request body is not valid JSON: ${(err as Error).message}`);
      }
    }
    await next();
  };
}

export function bodyOf(ctx: Context): unknown {
  return (ctx.request as unknown as { body?: unknown }).body;
}

/** Finds the actor (bearer token or session cookie); routes that need one call requireActor. */
export function authenticate(auth: AuthService) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('authorization');
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : ctx.cookies.get(SESSION_COOKIE);
    if (token) {
      const actor = await auth.authenticate(token);
      if (actor) ctx.state.actor = actor;
    }
    await next();
  };
}

export function requireActor(ctx: Context): Actor {
  const actor = ctx.state.actor as Actor | undefined;
  if (!actor) throw unauthorized('authentication required: send Authorization: Bearer <token> (POST /api/v1/auth/login)');
  return actor;
}
