/** The REST router of runs and their logs (job-routes.ts describes its routes). */
import { parseFlag } from '../../services/input.js';
import { requireActor } from '../middleware.js';
import { presentRun } from '../present.js';
import type { ApiDeps } from './deps.js';
import { queryOf } from './request.js';
import type { DocumentedRouter } from './spec.js';

export function mountRunRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'runs'>): void {
  r.get('/runs', async (ctx) => {
    const page = await deps.runs.list(requireActor(ctx), queryOf(ctx));
    ctx.body = { items: page.items.map(presentRun), nextCursor: page.nextCursor };
  });
  r.get('/runs/:runId', async (ctx) => {
    ctx.body = presentRun(await deps.runs.get(requireActor(ctx), ctx.params.runId ?? ''));
  });
  r.get('/runs/:runId/log', async (ctx) => {
    const actor = requireActor(ctx);
    const runId = ctx.params.runId ?? '';
    const follow = parseFlag(queryOf(ctx).follow, 'follow');
    ctx.type = 'text/plain; charset=utf-8';
    if (follow) {
      ctx.set('Cache-Control', 'no-cache');
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.body = await deps.runs.follow(actor, runId);
    } else {
      ctx.body = await deps.runs.log(actor, runId);
    }
  });
  r.post('/runs/:runId/kill', async (ctx) => {
    const run = await deps.runs.kill(requireActor(ctx), ctx.params.runId ?? '');
    ctx.status = 202;
    ctx.body = { runId: run.runId, killing: true };
  });
}
