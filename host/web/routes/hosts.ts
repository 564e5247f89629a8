/** The REST router of hosts (job-routes.ts describes its route). */
import { requireActor } from '../middleware.js';
import type { ApiDeps } from './deps.js';
import type { DocumentedRouter } from './spec.js';

export function mountHostRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'hostInfo'>): void {
  r.get('/hosts', (ctx) => {
    requireActor(ctx);
    ctx.body = [deps.hostInfo()];
  });
}
