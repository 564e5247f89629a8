/**
 * The REST API under /api/v1 (DESIGN.md §6): thin handlers over the services.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { HostConfig } from '../config/index.js';
import { assertAdmin, type Access } from '../services/access.js';
import { publicUser, type AuthService } from '../services/auth.js';
import type { EventService } from '../services/events.js';
import { jobFires, parseFireCount, previewSchedule } from '../services/fire-preview.js';
import { oneOf, optionalId, optionalObject, parseFlag, parseId, parseListPage, singleValues, wholeNumber } from '../services/input.js';
import type { JobService } from '../services/jobs.js';
import type { ProjectService } from '../services/projects.js';
import type { RunService } from '../services/runs.js';
import type { JobKind, JobState } from '../domain/index.js';
import { bodyOf, currentToken, requireActor, SESSION_COOKIE } from './middleware.js';
import { withUploadedFile } from './upload.js';
import { presentBundle, presentJob, presentRun, presentRunSummary } from './present.js';
import type { Door } from './routes/door.js';
import { openApiDocument, ROUTES } from './routes/openapi.js';
import { documented } from './routes/spec.js';

const JOB_STATES: readonly JobState[] = ['STOPPED', 'ACTIVE', 'PENDING'];
const JOB_KINDS: readonly JobKind[] = ['thread', 'module', 'isolate', 'exec'];

export interface ApiDeps {
  config: HostConfig;
  auth: AuthService;
  access: Access;
  events: EventService;
  projects: ProjectService;
  jobs: JobService;
  runs: RunService;
  nextFireOf(jobId: number): Date | null;
  /** This host as GET /api/v1/hosts shows it (one host; the cluster lists more). */
  hostInfo(): Record<string, unknown>;
}

/** Each route is mounted behind the door of its description in routes/ (who may call it, its input's schemas). */
export function apiRouter(deps: ApiDeps, door: Door): Router {
  const r = documented(new Router({ prefix: '/api/v1' }), '/api/v1', ROUTES, door);
  const reference = openApiDocument();
  const id = (ctx: Context, name = 'id'): number => parseId(ctx.params[name] ?? '', name);
  // Read before any lookup, so a bad parameter is named even where the ids it goes with do not exist.
  const query = (ctx: Context): Record<string, string | undefined> => singleValues(ctx.query);
  const body = (ctx: Context): Record<string, unknown> => optionalObject(bodyOf(ctx));

  r.get('/openapi.json', (ctx) => {
    ctx.body = reference;
  });

  r.post('/auth/login', async (ctx) => {
    const { username, password } = body(ctx);
    const session = await deps.auth.login(username, password, ctx.ip);
    ctx.cookies.set(SESSION_COOKIE, session.token, { httpOnly: true, sameSite: 'lax', expires: session.expiresAt });
    ctx.body = { token: session.token, user: session.user, expiresAt: session.expiresAt };
  });
  r.post('/auth/logout', async (ctx) => {
    requireActor(ctx);
    await deps.auth.logout(currentToken(ctx)!);
    ctx.cookies.set(SESSION_COOKIE, null);
    ctx.status = 204;
  });
  r.get('/auth/me', (ctx) => {
    ctx.body = requireActor(ctx);
  });

  r.get('/projects', async (ctx) => {
    const page = parseListPage(query(ctx));
    ctx.body = await deps.projects.list(requireActor(ctx), page);
  });
  r.post('/projects', async (ctx) => {
    ctx.status = 201;
    ctx.body = await deps.projects.create(requireActor(ctx), bodyOf(ctx));
  });
  r.get('/projects/:id', async (ctx) => {
    ctx.body = await deps.access.readableProject(requireActor(ctx), id(ctx));
  });
  r.patch('/projects/:id', async (ctx) => {
    ctx.body = await deps.projects.update(requireActor(ctx), id(ctx), bodyOf(ctx));
  });
  r.delete('/projects/:id', async (ctx) => {
    await deps.projects.remove(requireActor(ctx), id(ctx));
    ctx.status = 204;
  });
  r.get('/projects/:id/bundles', async (ctx) => {
    const { bundles, currentBundleId } = await deps.projects.listBundles(requireActor(ctx), id(ctx));
    ctx.body = bundles.map((bundle) => presentBundle(bundle, currentBundleId));
  });
  r.post('/projects/:id/bundles', async (ctx) => {
    const actor = requireActor(ctx);
    const projectId = id(ctx);
    await deps.access.writableProject(actor, projectId);
    const tmp = `${deps.config.dataDir}/tmp`;
    const result = await withUploadedFile(ctx, tmp, deps.config.maxBundleBytes, (file) => deps.projects.uploadBundle(actor, projectId, file));
    ctx.status = 201;
    ctx.body = { ...presentBundle(result.bundle, result.bundle.id), warnings: result.warnings };
  });
  r.post('/projects/:id/bundles/:bundleId/activate', async (ctx) => {
    const projectId = id(ctx);
    const bundleId = id(ctx, 'bundleId');
    const result = await deps.projects.activateBundle(requireActor(ctx), projectId, bundleId);
    ctx.body = { ...presentBundle(result.bundle, result.bundle.id), warnings: result.warnings };
  });
  r.delete('/projects/:id/bundles/:bundleId', async (ctx) => {
    const force = parseFlag(query(ctx).force, 'force');
    await deps.projects.deleteBundle(requireActor(ctx), id(ctx), id(ctx, 'bundleId'), force);
    ctx.status = 204;
  });

  r.get('/jobs', async (ctx) => {
    const q = query(ctx);
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
    const job = await deps.jobs.get(requireActor(ctx), id(ctx));
    const summaries = await deps.jobs.runSummaries([job]);
    ctx.body = presentJob(job, deps.nextFireOf(job.id), presentRunSummary(summaries.get(job.id)));
  });
  r.patch('/jobs/:id', async (ctx) => {
    const job = await deps.jobs.update(requireActor(ctx), id(ctx), bodyOf(ctx));
    ctx.body = presentJob(job, deps.nextFireOf(job.id));
  });
  r.delete('/jobs/:id', async (ctx) => {
    await deps.jobs.remove(requireActor(ctx), id(ctx));
    ctx.status = 204;
  });
  r.post('/jobs/:id/start', async (ctx) => {
    const { job, runId } = await deps.jobs.start(requireActor(ctx), id(ctx));
    ctx.body = { ...presentJob(job, deps.nextFireOf(job.id)), ...(runId ? { runId } : {}) };
  });
  r.post('/jobs/:id/stop', async (ctx) => {
    const job = await deps.jobs.stop(requireActor(ctx), id(ctx));
    ctx.body = presentJob(job, null);
  });
  r.post('/jobs/:id/trigger', async (ctx) => {
    ctx.status = 202;
    ctx.body = await deps.jobs.trigger(requireActor(ctx), id(ctx), bodyOf(ctx));
  });
  r.get('/jobs/:id/fires', async (ctx) => {
    const count = parseFireCount(query(ctx).count);
    const job = await deps.jobs.get(requireActor(ctx), id(ctx));
    ctx.body = jobFires(job, deps.nextFireOf(job.id), count);
  });
  r.post('/schedules/preview', (ctx) => {
    requireActor(ctx);
    ctx.body = previewSchedule(bodyOf(ctx));
  });
  r.get('/jobs/:id/subjobs', async (ctx) => {
    const jobs = await deps.jobs.subjobs(requireActor(ctx), id(ctx));
    ctx.body = jobs.map((j) => presentJob(j, deps.nextFireOf(j.id)));
  });

  r.get('/runs', async (ctx) => {
    const page = await deps.runs.list(requireActor(ctx), query(ctx));
    ctx.body = { items: page.items.map(presentRun), nextCursor: page.nextCursor };
  });
  r.get('/runs/:runId', async (ctx) => {
    ctx.body = presentRun(await deps.runs.get(requireActor(ctx), ctx.params.runId ?? ''));
  });
  r.get('/runs/:runId/log', async (ctx) => {
    const actor = requireActor(ctx);
    const runId = ctx.params.runId ?? '';
    const follow = parseFlag(query(ctx).follow, 'follow');
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

  r.get('/hosts', (ctx) => {
    requireActor(ctx);
    ctx.body = [deps.hostInfo()];
  });

  r.get('/events', async (ctx) => {
    const actor = requireActor(ctx);
    const q = query(ctx);
    const jobId = optionalId(q.jobId, 'jobId');
    const projectId = optionalId(q.projectId, 'projectId');
    const limit = q.limit === undefined ? 200 : wholeNumber(q.limit, 'limit', 1, 1000);
    ctx.body = await deps.events.list(actor, { jobId, projectId, limit });
  });

  r.get('/users', async (ctx) => {
    assertAdmin(requireActor(ctx));
    ctx.body = (await deps.auth.listUsers()).map(publicUser);
  });
  r.post('/users', async (ctx) => {
    assertAdmin(requireActor(ctx));
    const input = body(ctx);
    ctx.status = 201;
    ctx.body = publicUser(await deps.auth.createUser(input));
  });
  r.patch('/users/:id', async (ctx) => {
    assertAdmin(requireActor(ctx));
    const userId = id(ctx);
    const actor = requireActor(ctx);
    ctx.body = publicUser(await deps.auth.updateUser(userId, body(ctx), userId === actor.id ? currentToken(ctx) : undefined));
  });

  r.get('/tokens', async (ctx) => {
    const tokens = await deps.auth.listApiTokens(requireActor(ctx));
    ctx.body = tokens.map(({ tokenHash: _hash, ...t }) => t);
  });
  r.post('/tokens', async (ctx) => {
    const { name, ttlDays } = body(ctx);
    const { token, record } = await deps.auth.createApiToken(requireActor(ctx), name, ttlDays);
    const { tokenHash: _hash, ...shown } = record;
    ctx.status = 201;
    ctx.body = { ...shown, token };
  });
  r.delete('/tokens/:id', async (ctx) => {
    const tokenId = id(ctx);
    await deps.auth.deleteToken(requireActor(ctx), tokenId);
    ctx.status = 204;
  });
  return r.router;
}
