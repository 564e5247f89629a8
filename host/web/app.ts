/**
 * The koa application: health, metrics, the REST API, and the console's landing page.
 */
import Koa from 'koa';
import { HOST_VERSION } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import type { AuthService } from '../services/auth.js';
import { apiRouter, type ApiDeps } from './api.js';
import { landingPage } from './landing.js';
import { authenticate, errorMapper, jsonBody } from './middleware.js';

export interface WebDeps extends ApiDeps {
  auth: AuthService;
  logger: Logger;
  /** Prometheus text for GET /metrics. */
  metrics(): Promise<string>;
  /** false while starting or stopping. */
  ready(): boolean;
}

export function createWebApp(deps: WebDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  app.on('error', (err: Error) => deps.logger.debug('http stream error', { error: err.message }));
  app.use(errorMapper(deps.logger));
  app.use(async (ctx, next) => {
    if (ctx.path === '/healthz') {
      ctx.status = deps.ready() ? 200 : 503;
      ctx.body = { status: deps.ready() ? 'ok' : 'unavailable', host: deps.config.hostId };
      return;
    }
    if (ctx.path === '/' && ctx.method === 'GET') {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = landingPage(deps.config.hostId, HOST_VERSION);
      return;
    }
    if (ctx.path === '/metrics') {
      ctx.type = 'text/plain; version=0.0.4';
      ctx.body = await deps.metrics();
      return;
    }
    await next();
  });
  app.use(jsonBody());
  app.use(authenticate(deps.auth));
  const api = apiRouter(deps);
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}
