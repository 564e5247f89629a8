/** The REST router of the audit trail (job-routes.ts describes its route). */
import { requireActor } from '../middleware.js';
import type { ApiDeps } from './deps.js';
import { queryOf } from './request.js';
import type { DocumentedRouter } from './spec.js';

export function mountEventRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'events'>): void {
  r.get('/events', async (ctx) => {
    ctx.body = await deps.events.list(requireActor(ctx), queryOf(ctx));
  });
}
