/** The REST router of jobs and schedule previews (job-routes.ts describes its routes). */
import type { JobKind, JobState } from '../../domain/index.js';
import { jobFires, parseFireCount, previewSchedule } from '../../services/fire-preview.js';
import { oneOf, optionalId, parseListPage } from '../../services/input.js';
import { bodyOf, requireActor } from '../middleware.js';
import { presentJob, presentRunSummary } from '../present.js';
import type { ApiDeps } from './deps.js';
import { pathId, queryOf } from './request.js';
import type { DocumentedRouter } from './spec.js';

const JOB_STATES: readonly JobState[] = ['STOPPED', 'ACTIVE', 'PENDING'];
const JOB_KINDS: readonly JobKind[] = ['thread', 'module', 'isolate', 'exec'];

export function mountJobRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'jobs' | 'nextFireOf'>): void {
  r.get('/jobs', async (ctx) => {
    const q = queryOf(ctx);
    const projectId = optionalId(q.projectId, 'projectId');
    const state = q.state === undefined ? undefined : oneOf(q.state, JOB_STATES, 'state');
    const kind = q.kind === undefined ? undefined : oneOf(q.kind, JOB_KINDS, 'kind');
    const wanted = parseListPage(q);
    const page = await deps.jobs.list(requireActor(ctx), { projectId, state, kind, ...wanted });
    const [counts, summaries] = await Promise.all([deps.jobs.subJobCounts(page.items), deps.jobs.runSummaries(page.items)]);
    const items = page.items.map((j) =>
      presentJob(j, deps.nextFireOf(j.id), { subJobCount: counts.get(j.id) ?? 0, ...presentRunSummary(summaries.get(j.id)) }),
    );
    ctx.body = { items, nextCursor: page.nextCursor };
  });
  r.post('/jobs', async (ctx) => {
    const job = await deps.jobs.create(requireActor(ctx), bodyOf(ctx));
    ctx.status = 201;
    ctx.body = presentJob(job, deps.nextFireOf(job.id));
  });
  r.get('/jobs/:id', async (ctx) => {
    const job = await deps.jobs.get(requireActor(ctx), pathId(ctx));
    const summaries = await deps.jobs.runSummaries([job]);
    ctx.body = presentJob(job, deps.nextFireOf(job.id), presentRunSummary(summaries.get(job.id)));
  });
  r.patch('/jobs/:id', async (ctx) => {
    const job = await deps.jobs.update(requireActor(ctx), pathId(ctx), bodyOf(ctx));
    ctx.body = presentJob(job, deps.nextFireOf(job.id));
  });
  r.delete('/jobs/:id', async (ctx) => {
    await deps.jobs.remove(requireActor(ctx), pathId(ctx));
    ctx.status = 204;
  });
  r.post('/jobs/:id/start', async (ctx) => {
    const { job, runId } = await deps.jobs.start(requireActor(ctx), pathId(ctx));
    ctx.body = { ...presentJob(job, deps.nextFireOf(job.id)), ...(runId ? { runId } : {}) };
  });
  r.post('/jobs/:id/stop', async (ctx) => {
    const job = await deps.jobs.stop(requireActor(ctx), pathId(ctx));
    ctx.body = presentJob(job, null);
  });
  r.post('/jobs/:id/trigger', async (ctx) => {
    ctx.status = 202;
    ctx.body = await deps.jobs.trigger(requireActor(ctx), pathId(ctx), bodyOf(ctx));
  });
  r.get('/jobs/:id/fires', async (ctx) => {
    const count = parseFireCount(queryOf(ctx).count);
    const job = await deps.jobs.get(requireActor(ctx), pathId(ctx));
    ctx.body = jobFires(job, deps.nextFireOf(job.id), count);
  });
  r.post('/schedules/preview', (ctx) => {
    requireActor(ctx);
    ctx.body = previewSchedule(bodyOf(ctx));
  });
  r.get('/jobs/:id/subjobs', async (ctx) => {
    const jobs = await deps.jobs.subjobs(requireActor(ctx), pathId(ctx));
    ctx.body = jobs.map((j) => presentJob(j, deps.nextFireOf(j.id)));
  });
}
