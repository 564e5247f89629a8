/**
 * The REST API under /api/v1 (DESIGN.md §6): thin handlers over the services, one router per resource in routes/,
 * each beside the description of its routes.
 */
import Router from '@koa/router';
import type { ApiDeps } from './routes/deps.js';
import type { Door } from './routes/door.js';
import { mountBundleRoutes } from './routes/bundles.js';
import { mountDashboardRoutes } from './routes/dashboard.js';
import { mountEventRoutes } from './routes/events.js';
import { mountHostRoutes } from './routes/hosts.js';
import { mountJobRoutes } from './routes/jobs.js';
import { openApiDocument, ROUTES } from './routes/openapi.js';
import { mountProjectRoutes } from './routes/projects.js';
import { mountRunRoutes } from './routes/runs.js';
import { documented } from './routes/spec.js';
import { mountAuthRoutes, mountUserRoutes } from './routes/users.js';

export type { ApiDeps };

/** Each route is mounted behind the door of its description in routes/ (who may call it, its input's schemas). */
export function apiRouter(deps: ApiDeps, door: Door): Router {
  const r = documented(new Router({ prefix: '/api/v1' }), '/api/v1', ROUTES, door);
  // Made at its first request: building it took ~0.8 ms of every start.
  let reference: Record<string, unknown> | null = null;
  r.get('/openapi.json', (ctx) => {
    ctx.body = reference ??= openApiDocument();
  });
  mountAuthRoutes(r, deps);
  mountProjectRoutes(r, deps);
  mountBundleRoutes(r, deps);
  mountJobRoutes(r, deps);
  mountRunRoutes(r, deps);
  mountHostRoutes(r, deps);
  mountEventRoutes(r, deps);
  mountDashboardRoutes(r, deps);
  mountUserRoutes(r, deps);
  return r.router;
}
