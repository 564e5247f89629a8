/** Jobs: the list (filters, sub-jobs under their resolver), a job's page and actions, and the one create/edit form. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { JobKind, JobRecord, JobState } from '../../domain/index.js';
import { jobFires, previewSchedule, type FirePreview } from '../../services/fire-preview.js';
import { oneOf, optionalId, parseListPage } from '../../services/input.js';
import { assertWriter } from '../../services/access.js';
import type { Actor } from '../../services/auth.js';
import { presentRun } from '../present.js';
import { pathId, queryOf } from '../routes/request.js';
import { actorOf } from './guard.js';
import { formOf, type ConsoleContext } from './context.js';
import { blankJobForm, JOB_FIELDS, jobBody, jobToForm, paramsOf, scheduleOf, type JobForm } from './job-form.js';
import { done, formProblem } from './page.js';

const JOB_STATES: readonly JobState[] = ['STOPPED', 'ACTIVE', 'PENDING'];
const JOB_KINDS: readonly JobKind[] = ['thread', 'module', 'isolate', 'exec'];
const FORM_SCRIPTS = ['job-form.js'];

/** One line about when a job fires. */
export function scheduleText(job: Pick<JobRecord, 'schedule'>): string {
  const s = job.schedule as { type: string; cron?: string; timezone?: string; everyMs?: number };
  if (s.type === 'CRON') return `cron ${s.cron} (${s.timezone ?? 'host zone'})`;
  if (s.type === 'INTERVAL') return `every ${s.everyMs} ms`;
  return 'manual';
}

export function mountJobPages(router: Router, { deps, pages }: ConsoleContext): void {
  const writable = (actor: Actor, projectId: number): Promise<boolean> =>
    actor.role === 'viewer' ? Promise.resolve(false) : deps.access.writableProject(actor, projectId).then(() => true, () => false);
  const projectsOf = async (actor: Actor) => (await deps.projects.list(actor, { limit: 1000 })).items;

  const present = (job: JobRecord, extra: Record<string, unknown> = {}) => ({
    ...job,
    scheduleText: scheduleText(job),
    nextFireAt: deps.nextFireOf(job.id),
    entryText: Array.isArray(job.entry) ? job.entry.join(' ') : job.entry,
    ...extra,
  });

  router.get('/jobs', async (ctx) => {
    const actor = actorOf(ctx)!;
    const q = queryOf(ctx);
    const filter = {
      projectId: optionalId(q.projectId || undefined, 'projectId'),
      state: q.state ? oneOf(q.state, JOB_STATES, 'state') : undefined,
      kind: q.kind ? oneOf(q.kind, JOB_KINDS, 'kind') : undefined,
    };
    const page = await deps.jobs.list(actor, { ...filter, ...parseListPage({ q: q.q, cursor: q.cursor, limit: '50' }) });
    const [counts, summaries, projects] = await Promise.all([deps.jobs.subJobCounts(page.items), deps.jobs.runSummaries(page.items), projectsOf(actor)]);
    const names = new Map(projects.map((p) => [p.id, p.name]));
    const items = await Promise.all(
      page.items.map(async (job) => {
        const subCount = counts.get(job.id) ?? 0;
        const subjobs = subCount > 0 ? (await deps.jobs.subjobs(actor, job.id)).slice(0, 50).map((s) => present(s)) : [];
        return present(job, { project: names.get(job.projectId) ?? `#${job.projectId}`, subCount, subjobs, lastRun: summaries.get(job.id)?.lastRun ?? null, runCounts: summaries.get(job.id)?.runCounts ?? {} });
      }),
    );
    const next = page.nextCursor ? `/jobs?${new URLSearchParams({ ...Object.fromEntries(Object.entries(q).filter(([k, v]) => k !== 'cursor' && v)), cursor: page.nextCursor } as Record<string, string>)}` : null;
    const filtered = Boolean(q.q || q.state || q.kind || q.projectId);
    pages.show(ctx, 'jobs', 'Jobs', { items, projects, q, filtered, next, states: JOB_STATES, kinds: JOB_KINDS });
  });

  const showForm = async (ctx: Context, form: JobForm, opts: { job?: JobRecord; errors?: Record<string, string>; preview?: FirePreview | null; status?: number }): Promise<void> => {
    const actor = actorOf(ctx)!;
    const errors = opts.errors ?? {};
    const projects = opts.job ? [] : (await projectsOf(actor));
    const projectId = Number(form.projectId);
    let exports: { name: string; type: string }[] = [];
    let projectName = '';
    if (projectId) {
      const { bundles, currentBundleId } = await deps.projects.listBundles(actor, projectId);
      projectName = (await deps.access.readableProject(actor, projectId)).name;
      const current = bundles.find((b) => b.id === currentBundleId);
      exports = current?.exports ?? [];
    }
    let preview = opts.preview ?? null;
    if (preview === null && !errors.cron && !errors.everyMs && !errors.startAt && !errors.endAt && !errors.scheduleType && !errors.timezone) {
      try {
        preview = previewSchedule({ schedule: scheduleOf(form, {}) });
      } catch (err) {
        const problem = formProblem(err, JOB_FIELDS);
        Object.assign(errors, Object.fromEntries(Object.entries(problem.errors).map(([k, v]) => [k === '_form' ? 'scheduleType' : k, v])));
      }
    }
    const title = opts.job ? `Edit ${opts.job.name}` : 'New job';
    pages.show(
      ctx,
      'job-form',
      title,
      { section: 'jobs', job: opts.job, form, errors, preview, projects, projectName, exports, kinds: JOB_KINDS, action: opts.job ? `/jobs/${opts.job.id}` : '/jobs', scripts: FORM_SCRIPTS },
      opts.status ?? 200,
    );
  };

  router.get('/jobs/new', async (ctx) => {
    const actor = actorOf(ctx)!;
    assertWriter(actor);
    const q = queryOf(ctx);
    const cloneOf = optionalId(q.clone || undefined, 'clone');
    if (cloneOf) {
      const source = await deps.jobs.get(actor, cloneOf);
      return showForm(ctx, { ...jobToForm(source), name: `${source.name} copy` }, {});
    }
    const projectId = q.projectId ?? (await projectsOf(actor))[0]?.id?.toString() ?? '';
    await showForm(ctx, blankJobForm(projectId), {});
  });

  const save = async (ctx: Context, job?: JobRecord): Promise<void> => {
    const actor = actorOf(ctx)!;
    const form = formOf(ctx);
    const errors: Record<string, string> = {};
    if ('preview' in form || 'reload' in form) return showForm(ctx, form, { job });
    const body = jobBody(form, errors);
    if (Object.keys(errors).length > 0) return showForm(ctx, form, { job, errors, status: 400 });
    try {
      if (job) {
        const saved = await deps.jobs.update(actor, job.id, body);
        return done(ctx, `Job ${saved.name} is saved.`, `/jobs/${saved.id}`);
      }
      const created = await deps.jobs.create(actor, { ...body, projectId: Number(form.projectId), start: form.start === 'on' });
      done(ctx, `Job ${created.name} is created${created.state === 'STOPPED' ? '; start it to put it on its schedule' : ` and ${created.state}`}.`, `/jobs/${created.id}`);
    } catch (err) {
      const problem = formProblem(err, JOB_FIELDS);
      await showForm(ctx, form, { job, errors: problem.errors, status: problem.status });
    }
  };
  router.post('/jobs', (ctx) => save(ctx));

  router.get('/jobs/:id', async (ctx) => {
    const actor = actorOf(ctx)!;
    const job = await deps.jobs.get(actor, pathId(ctx));
    const [project, summaries, runs, subjobs, canChange] = await Promise.all([
      deps.access.readableProject(actor, job.projectId),
      deps.jobs.runSummaries([job]),
      deps.runs.list(actor, { jobId: String(job.id), limit: '15' }),
      deps.jobs.subjobs(actor, job.id),
      writable(actor, job.projectId),
    ]);
    const resolver = job.resolverId ? await deps.jobs.get(actor, job.resolverId).catch(() => null) : null;
    pages.show(ctx, 'job', `Job ${job.name}`, {
      section: 'jobs',
      job: present(job, { paramsText: job.params === null ? '' : JSON.stringify(job.params, null, 2), configText: Object.entries(job.config).map(([k, v]) => `${k}=${v}`).join('\n') }),
      project,
      resolver,
      fires: jobFires(job, deps.nextFireOf(job.id), 10),
      summary: summaries.get(job.id),
      runs: runs.items.map(presentRun),
      subjobs: subjobs.map((s) => present(s)),
      writable: canChange,
      scripts: canChange ? ['job-form.js'] : [],
    });
  });
  router.get('/jobs/:id/edit', async (ctx) => {
    const { job } = await deps.access.writableJob(actorOf(ctx)!, pathId(ctx));
    await showForm(ctx, jobToForm(job), { job });
  });
  router.post('/jobs/:id', async (ctx) => save(ctx, await deps.jobs.get(actorOf(ctx)!, pathId(ctx))));
  router.post('/jobs/:id/start', async (ctx) => {
    const { job, runId } = await deps.jobs.start(actorOf(ctx)!, pathId(ctx));
    done(ctx, runId ? `Job ${job.name} runs now.` : `Job ${job.name} is ${job.state}.`, runId ? `/runs/${runId}` : `/jobs/${job.id}`);
  });
  router.post('/jobs/:id/stop', async (ctx) => {
    const job = await deps.jobs.stop(actorOf(ctx)!, pathId(ctx));
    done(ctx, `Job ${job.name} is stopped; runs in flight finish.`, `/jobs/${job.id}`);
  });
  router.post('/jobs/:id/trigger', async (ctx) => {
    const id = pathId(ctx);
    const errors: Record<string, string> = {};
    const params = paramsOf(formOf(ctx).params, errors, 'triggerParams');
    if (errors.triggerParams) {
      done(ctx, `Not triggered: ${errors.triggerParams}`, `/jobs/${id}`);
      return;
    }
    const { runId } = await deps.jobs.trigger(actorOf(ctx)!, id, params === undefined ? {} : { params });
    done(ctx, 'The run is recorded and starts.', `/runs/${runId}`);
  });
  router.post('/jobs/:id/delete', async (ctx) => {
    const actor = actorOf(ctx)!;
    const job = await deps.jobs.get(actor, pathId(ctx));
    await deps.jobs.remove(actor, job.id);
    done(ctx, `Job ${job.name} is deleted; its runs stay in the history.`, `/jobs?projectId=${job.projectId}`);
  });
}
