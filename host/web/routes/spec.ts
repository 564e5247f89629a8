/**
 * A route is described once (method, path, who may call it, its parameters, query, body, answers and refusals), and
 * that description both guards the koa route (routes/door.ts) and becomes its entry in the OpenAPI document
 * (routes/openapi.ts). A handler cannot be mounted without one: `documented(router)` refuses a path it has no
 * description of, so the document lists every route the host serves.
 */
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Schema } from './schemas.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * public: anyone; user: a signed-in user (any role; the services check what each may touch); admin: admins only;
 * token: the handler checks (GET /metrics takes any user's token unless the host serves it publicly).
 */
export type Auth = 'public' | 'user' | 'admin' | 'token';

export interface Answer {
  description: string;
  /** JSON answers: the schema; other media (text, HTML, a stream) name their type and have no schema. */
  schema?: Schema;
  type?: string;
}

export interface RouteSpec {
  method: Method;
  /** The full path in koa's form: /api/v1/jobs/:id. */
  path: string;
  /** The group the route is listed under. */
  tag: string;
  summary: string;
  description?: string;
  auth: Auth;
  /** Path parameters by name (each one required). */
  params?: Record<string, Schema>;
  /** Query parameters by name (each one optional; others are ignored). */
  query?: Record<string, Schema>;
  /** A JSON body (required: a missing body is refused), or a multipart upload the handler reads. */
  body?: { schema: Schema; required: boolean } | 'multipart';
  /** Success answers by status. */
  answers: Record<number, Answer>;
  /** Refusals by status, with when they happen (400, and 401/403 for auth, are added from the rest). */
  refusals?: Record<number, string>;
}

type Handler = (ctx: Context, next: Next) => unknown;

/** What guards a route before its handler (routes/door.ts `Door` is one). */
export interface RouteGuard {
  guard(spec: RouteSpec): (ctx: Context, next: Next) => Promise<void>;
}

export interface DocumentedRouter {
  readonly router: Router;
  get(path: string, handler: Handler): void;
  post(path: string, handler: Handler): void;
  patch(path: string, handler: Handler): void;
  delete(path: string, handler: Handler): void;
}

export function specKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

/** A router whose routes are mounted behind their description's door; `prefix` is the router's own. */
export function documented(router: Router, prefix: string, specs: readonly RouteSpec[], door: RouteGuard): DocumentedRouter {
  const byKey = new Map(specs.map((spec) => [specKey(spec.method, spec.path), spec]));
  const mount = (method: Method) => (path: string, handler: Handler) => {
    const spec = byKey.get(specKey(method, `${prefix}${path}`));
    if (!spec) throw new Error(`${method} ${prefix}${path} has no description in host/web/routes: add one (the OpenAPI document is built from them)`);
    const verb = method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete';
    router[verb](path, door.guard(spec), handler);
  };
  return { router, get: mount('GET'), post: mount('POST'), patch: mount('PATCH'), delete: mount('DELETE') };
}
