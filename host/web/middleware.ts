/**
 * The cross-cutting koa middleware: one error mapper (internal messages never reach clients), a small JSON body
 * reader with a size limit, and authentication by bearer token or session cookie.
 */
import type { Context, Next } from 'koa';
import { HostError, badRequest, tooLarge, unauthorized, type ErrorCode } from '../errors/index.js';
import type { PathHider } from '../errors/server-paths.js';
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
  TOO_MANY_REQUESTS: 429,
  DUPLICATE_FIRE: 409,
  UNAVAILABLE: 503,
  LEASE_LOST: 503,
  INTERNAL: 500,
};

/** What a 503 tells a client to wait before it tries again (the database is probed once a second). */
const RETRY_AFTER_S = '5';

export const SESSION_COOKIE = 'jc_session';

/**
 * `isUnavailable` recognises an error that says the database cannot be reached: 503, not 500. `hidePaths` takes the
 * host's folders out of a message (errors/server-paths.ts).
 */
export function errorMapper(logger: Logger, isUnavailable: (err: unknown) => boolean = () => false, hidePaths: PathHider = (text) => text) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: { code: 'NOT_FOUND', message: `no route for ${ctx.method} ${ctx.path}` } };
      }
    } catch (err) {
      if (!(err instanceof HostError) && isUnavailable(err)) {
        ctx.status = 503;
        ctx.set('Retry-After', RETRY_AFTER_S);
        ctx.body = { error: { code: 'UNAVAILABLE', message: 'the database does not answer; try again shortly' } };
        return;
      }
      if (err instanceof HostError) {
        if (err.code === 'UNAVAILABLE') ctx.set('Retry-After', RETRY_AFTER_S);
        const retryAfterS = (err.details as { retryAfterS?: unknown } | undefined)?.retryAfterS;
        if (err.code === 'TOO_MANY_REQUESTS' && typeof retryAfterS === 'number') ctx.set('Retry-After', String(retryAfterS));
        ctx.status = STATUS[err.code];
        ctx.body = { error: { code: err.code, message: hidePaths(err.message), ...(err.details ? { details: err.details } : {}) } };
        return;
      }
      const status = (err as { status?: number }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        ctx.status = status;
        ctx.body = { error: { code: 'BAD_REQUEST', message: hidePaths((err as Error).message) } };
        return;
      }
      logger.error('request failed', { method: ctx.method, path: ctx.path, error: (err as Error)?.stack ?? String(err) });
      ctx.status = 500;
      ctx.body = { error: { code: 'INTERNAL', message: 'internal error; the host log has the details' } };
    }
  };
}

/**
 * How deep a JSON body may nest. A job's params are stored a level below the body, and MariaDB's json_valid refuses
 * 32 levels; much deeper values overflowed the stack of the JSON.stringify that measures params (a RangeError, a 500).
 */
export const MAX_BODY_DEPTH = 32;

/** The request body as UTF-8 text; past limitBytes, 413. */
export async function bodyText(ctx: Context, limitBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw tooLarge(`request body is over ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads a JSON body (up to limitBytes, nested up to MAX_BODY_DEPTH levels) into ctx.request.body; other content types
 * are left alone. The bounds hold for every route, so no handler meets a body it cannot walk.
 */
export function jsonBody(limitBytes = 1024 * 1024) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (['POST', 'PUT', 'PATCH'].includes(ctx.method) && ctx.is('application/json')) {
      const text = await bodyText(ctx, limitBytes);
      let body: unknown;
      try {
        body = text.trim() === '' ? undefined : JSON.parse(text);
      } catch (err) {
        throw badRequest(`request body is not valid JSON: ${(err as Error).message}`);
      }
      const deep = tooDeep(body, MAX_BODY_DEPTH);
      if (deep) throw badRequest(`${deep.field ?? 'request body'} nests too deep: a request body may nest at most ${MAX_BODY_DEPTH} levels`, deep.field);
      (ctx.request as unknown as { body: unknown }).body = body;
    }
    await next();
  };
}

/**
 * Where a value nests deeper than `max` levels, or null. The field is named by its object keys down to the first
 * array or the fourth name (`schedule.cron`, `params.a.b.c`), which is what a client can find in what it sent.
 * Iterative: no stack to overflow.
 */
function tooDeep(root: unknown, max: number): { field: string | undefined } | null {
  const stack: [value: unknown, depth: number, path: string[], named: boolean][] = [[root, 1, [], true]];
  while (stack.length > 0) {
    const [value, depth, path, named] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > max) return { field: path.length > 0 ? path.join('.') : undefined };
    const naming = named && !Array.isArray(value) && path.length < 4;
    for (const [key, child] of Object.entries(value)) stack.push([child, depth + 1, naming ? [...path, key] : path, naming]);
  }
  return null;
}

export function bodyOf(ctx: Context): unknown {
  return (ctx.request as unknown as { body?: unknown }).body;
}

/** Finds the actor (bearer token or session cookie); routes that need one call requireActor. */
export function authenticate(auth: AuthService) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const token = tokenOf(ctx);
    if (token) {
      const actor = await auth.authenticate(token);
      if (actor) {
        ctx.state.actor = actor;
        ctx.state.token = token;
      }
    }
    await next();
  };
}

/** The bearer token or session cookie a request carries, if any. */
export function tokenOf(ctx: Context): string | undefined {
  const header = ctx.get('authorization');
  return header.startsWith('Bearer ') ? header.slice(7).trim() : ctx.cookies.get(SESSION_COOKIE);
}

/** The token the request was authenticated with (after requireActor: always there). */
export function currentToken(ctx: Context): string | undefined {
  return ctx.state.token as string | undefined;
}

export function requireActor(ctx: Context): Actor {
  const actor = ctx.state.actor as Actor | undefined;
  if (!actor) throw unauthorized('authentication required: send Authorization: Bearer <token> (POST /api/v1/auth/login)');
  return actor;
}
