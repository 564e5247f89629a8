/** The REST router of the audit trail (job-routes.ts describes its route). */
import { optionalId, wholeNumber } from '../../services/input.js';
import { requireActor } from '../middleware.js';
import type { ApiDeps } from './deps.js';
import { queryOf } from './request.js';
import type { DocumentedRouter } from './spec.js';

export function mountEventRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'events'>): void {
  r.get('/events', async (ctx) => {
    const actor = requireActor(ctx);
    const q = queryOf(ctx);
    const jobId = optionalId(q.jobId, 'jobId');
    const projectId = optionalId(q.projectId, 'projectId');
    const limit = q.limit === undefined ? 200 : wholeNumber(q.limit, 'limit', 1, 1000);
    ctx.body = await deps.events.list(actor, { jobId, projectId, limit });
  });
}
