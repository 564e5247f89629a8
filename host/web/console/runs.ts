/**
 * Runs: the history (filters, keyset pages), a run's page, its log live over server-sent events (the same follow
 * stream as GET /api/v1/runs/:runId/log?follow=1), the log as a download, and kill.
 */
import type Router from '@koa/router';
import { PassThrough, type Readable } from 'node:stream';
import { FINAL_RUN_STATUSES } from '../../domain/index.js';
import { queryOf } from '../routes/request.js';
import { presentRun } from '../present.js';
import { actorOf } from './guard.js';
import type { ConsoleContext } from './context.js';
import { done, utcQuery } from './page.js';

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'KILLED', 'SKIPPED', 'INTERRUPTED'];
const TRIGGERS = ['SCHEDULE', 'MANUAL', 'RETRY', 'RECOVERY'];
/** The run-list filters the console passes on to the run service, as the REST query names them. */
const FILTERS = ['jobId', 'projectId', 'status', 'trigger', 'from', 'to', 'cursor'] as const;

/**
 * The follow stream as server-sent events: one `data:` line per log line, an `id:` with the lines sent so far (a
 * reconnect sends Last-Event-ID and is not sent them again), and `event: end` when the run ends.
 */
export function logEvents(log: Readable, skipLines: number): PassThrough {
  const out = new PassThrough();
  let sent = 0;
  let rest = '';
  const send = (line: string): void => {
    sent += 1;
    if (sent <= skipLines) return;
    out.write(`id: ${sent}\ndata: ${line.replace(/\r/g, '')}\n\n`);
  };
  log.setEncoding('utf8');
  log.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    lines.forEach(send);
  });
  log.on('end', () => {
    if (rest) send(rest);
    out.end('event: end\ndata: the run has ended\n\n');
  });
  log.on('error', () => out.end('event: end\ndata: the log could not be read to the end\n\n'));
  out.on('close', () => log.destroy());
  out.write(': following\n\n');
  return out;
}

export function mountRunPages(router: Router, { deps, pages }: ConsoleContext): void {
  router.get('/runs', async (ctx) => {
    const actor = actorOf(ctx)!;
    const q = queryOf(ctx);
    const search = (q.q ?? '').trim();
    if (RUN_ID.test(search)) return ctx.redirect(`/runs/${search.toLowerCase()}`);
    const query: Record<string, string | undefined> = { limit: '50' };
    for (const key of FILTERS) if (q[key]) query[key] = key === 'from' || key === 'to' ? utcQuery(q[key]) : q[key];
    const page = await deps.runs.list(actor, query);
    const jobs = await deps.jobs.names(actor, page.items.map((r) => r.jobId));
    const keep = Object.fromEntries(Object.entries(q).filter(([k, v]) => v && k !== 'cursor' && k !== 'q')) as Record<string, string>;
    const next = page.nextCursor ? `/runs?${new URLSearchParams({ ...keep, cursor: page.nextCursor })}` : null;
    pages.show(ctx, 'runs', 'Runs', {
      runs: page.items.map((r) => ({ ...presentRun(r), jobName: jobs.get(r.jobId) ?? `job #${r.jobId} (deleted)` })),
      q,
      search,
      notRunId: search !== '' && !RUN_ID.test(search),
      filtered: Object.keys(keep).length > 0 || Boolean(q.cursor),
      next,
      first: q.cursor ? `/runs?${new URLSearchParams(keep)}` : null,
      statuses: STATUSES,
      triggers: TRIGGERS,
    });
  });

  router.get('/runs/:runId', async (ctx) => {
    const actor = actorOf(ctx)!;
    const run = await deps.runs.get(actor, ctx.params.runId ?? '');
    const job = await deps.jobs.get(actor, run.jobId).catch(() => null);
    const live = !FINAL_RUN_STATUSES.includes(run.status);
    const log = await deps.runs.log(actor, run.runId);
    const canKill = live && actor.role !== 'viewer' && (await deps.access.writableProject(actor, run.projectId).then(() => true, () => false));
    // A retry keeps the fire time of the run it retries: the attempts of one fire are the job's runs at that time.
    const at = new Date(run.scheduledAt).getTime();
    const fire = { jobId: String(run.jobId), from: new Date(at).toISOString(), to: new Date(at + 1).toISOString(), limit: '100' };
    const attempts = (await deps.runs.list(actor, fire)).items.sort((x, y) => x.attempt - y.attempt);
    pages.show(ctx, 'run', `Run ${run.runId.slice(0, 8)}`, {
      section: 'runs',
      run: presentRun(run),
      job,
      live,
      logText: log,
      logLines: log === '' ? 0 : log.split('\n').length - (log.endsWith('\n') ? 1 : 0),
      canKill,
      attempts: attempts.length > 1 ? attempts : [],
      errorText: run.error ? (run.error.stack ?? `${run.error.name}: ${run.error.message}`) : '',
      paramsText: run.params === null || run.params === undefined ? '' : JSON.stringify(run.params, null, 2),
      scripts: live ? ['log-tail.js'] : [],
    });
  });

  router.get('/runs/:runId/log/live', async (ctx) => {
    const actor = actorOf(ctx)!;
    const runId = ctx.params.runId ?? '';
    const follow = await deps.runs.follow(actor, runId);
    const lastId = Number(ctx.get('last-event-id') || queryOf(ctx).after || 0);
    ctx.type = 'text/event-stream; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache, no-transform');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.req.socket.setNoDelay(true);
    ctx.body = logEvents(follow, Number.isSafeInteger(lastId) && lastId > 0 ? lastId : 0);
  });

  router.get('/runs/:runId/log.txt', async (ctx) => {
    const actor = actorOf(ctx)!;
    const run = await deps.runs.get(actor, ctx.params.runId ?? '');
    ctx.type = 'text/plain; charset=utf-8';
    ctx.attachment(`run-${run.runId}.log`);
    ctx.body = await deps.runs.log(actor, run.runId);
  });

  router.post('/runs/:runId/kill', async (ctx) => {
    const run = await deps.runs.kill(actorOf(ctx)!, ctx.params.runId ?? '');
    done(ctx, 'The run is being killed; its status becomes KILLED.', `/runs/${run.runId}`);
  });
}
