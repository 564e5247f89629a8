/**
 * The koa application: health, metrics, the web console (console/) and the REST API.
 */
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import { unauthorized } from '../errors/index.js';
import { serverPathHider } from '../errors/server-paths.js';
import type { Logger } from '../log/logger.js';
import type { AuthService } from '../services/auth.js';
import type { HostMetrics } from '../services/metrics.js';
import { apiRouter, type ApiDeps } from './api.js';
import { consoleRouter } from './console/index.js';
import { renderMetrics } from './metrics.js';
import { authenticate, errorMapper, jsonBody, tokenOf } from './middleware.js';
import { Door } from './routes/door.js';
import { COMPONENTS, ROUTES } from './routes/openapi.js';
import { documented } from './routes/spec.js';

/** Whether the database answers, as /healthz tells it; a request that finds it unreachable reports it here. */
export interface DatabaseStatus {
  readonly up: boolean;
  readonly downSince: Date | null;
  readonly lastError: string | null;
  failed(err: unknown): boolean;
}

export interface WebDeps extends ApiDeps {
  auth: AuthService;
  logger: Logger;
  database: DatabaseStatus;
  /** What GET /metrics shows. */
  metrics(): Promise<HostMetrics>;
  /** false while starting or stopping. */
  ready(): boolean;
}

async function requireToken(ctx: Context, auth: AuthService): Promise<void> {
  const token = tokenOf(ctx);
  if (!token || !(await auth.authenticate(token))) {
    throw unauthorized('/metrics needs a token: send Authorization: Bearer <token> (an API token made with POST /api/v1/tokens), or start the host with --metrics-public');
  }
}

export function createWebApp(deps: WebDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  app.on('error', (err: Error) => deps.logger.debug('http stream error', { error: err.message }));
  const health = deps.database;
  // A request that finds the database unreachable marks it down too (the probe then finds when it is back).
  app.use(errorMapper(deps.logger, (err) => health.failed(err), serverPathHider(deps.config)));
  const door = new Door(COMPONENTS);
  // Before the body reader and authentication: health and metrics answer while the database does not.
  const root = documented(new Router(), '', ROUTES, door);
  root.get('/healthz', (ctx) => {
    // Ready: started and not stopping, and the database answers (a host without it records nothing it runs).
    const ok = deps.ready() && health.up;
    ctx.status = ok ? 200 : 503;
    const database = health.up ? { status: 'up' } : { status: 'down', since: health.downSince?.toISOString(), error: health.lastError };
    ctx.body = { status: ok ? 'ok' : 'unavailable', host: deps.config.hostId, database };
    if (!ok) ctx.set('Retry-After', '5');
  });
  root.get('/metrics', async (ctx) => {
    // Any user's token (a viewer's will do) unless the host serves metrics publicly (--metrics-public).
    if (!deps.config.metricsPublic) await requireToken(ctx, deps.auth);
    ctx.type = 'text/plain; version=0.0.4';
    ctx.body = renderMetrics(await deps.metrics());
  });
  app.use(root.router.routes());
  app.use(jsonBody());
  app.use(authenticate(deps.auth));
  app.use(consoleRouter(deps).routes());
  const api = apiRouter(deps, door);
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}
