/**
 * What a start does after a crash or a stop: runs left RUNNING or QUEUED become INTERRUPTED (their spilled logs
 * kept), jobs that were ACTIVE or PENDING are scheduled again, missed fire times found from the database are
 * handled by each job's misfire policy, onInterrupt 'rerun' starts a RECOVERY run, and retries that were waiting for
 * their backoff (QUEUED with notBefore) wait again and run at their time.
 */
import { rerunsOnInterrupt } from '../dispatch/dispatcher.js';
import { FIRE_ALL_LIMIT } from '../dispatch/missed-fires.js';
import type { LogIndex } from '../dispatch/types.js';
import { serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { fireTimesBetween } from '../scheduler/schedule.js';
import type { JobRecord, JobSchedule, RunRecord } from '../domain/index.js';
import type { Store } from '../store/types.js';
import type { Engine } from './engine.js';

export interface RecoveryDeps {
  store: Store;
  engine: Engine;
  logs: { recover(runIds: string[]): Promise<Map<string, LogIndex>> };
  logger: Logger;
  /** How many jobs are read at a time (default 5,000). */
  pageSize?: number;
}

export interface RecoveryReport {
  interrupted: number;
  rescheduled: number;
  stopped: number;
  catchUpRuns: number;
  recoveryRuns: number;
  retriesResumed: number;
}

/**
 * Jobs are read a page at a time, and only what scheduling needs: the whole list of 100,000 full records held while
 * they were scheduled was a peak of several hundred MB, and V8 keeps a heap's peak as the process's RSS.
 */
const PAGE_SIZE = 5_000;

export async function recover(deps: RecoveryDeps, now = new Date()): Promise<RecoveryReport> {
  const report: RecoveryReport = { interrupted: 0, rescheduled: 0, stopped: 0, catchUpRuns: 0, recoveryRuns: 0, retriesResumed: 0 };
  const { interrupted, retries } = await interruptLeftovers(deps, now);
  report.retriesResumed = await resumeRetries(deps, retries);
  report.interrupted = interrupted.length;
  const catchUps: Promise<unknown>[] = [];
  const limit = deps.pageSize ?? PAGE_SIZE;
  for (let afterId = 0; ; ) {
    const page = await deps.store.jobs.listSchedules({ states: ['ACTIVE', 'PENDING'], afterId, limit });
    await schedulePage(deps, page, now, report, catchUps);
    if (page.length < limit) break;
    afterId = (page[page.length - 1] as JobSchedule).id;
  }
  const interruptedJobs = byId(await deps.store.jobs.getMany([...new Set(interrupted.map((run) => run.jobId))]));
  for (const run of interrupted) {
    const job = interruptedJobs.get(run.jobId);
    if (job && rerunsOnInterrupt(job)) {
      catchUps.push(deps.engine.trigger(job, 'RECOVERY', 'system', { scheduledAt: now }));
      report.recoveryRuns++;
    }
  }
  await Promise.all(catchUps.map((p) => p.catch((err) => deps.logger.warn('catch-up run failed', { error: serializeError(err).message }))));
  deps.logger.info('recovery done', { ...report });
  return report;
}

/** Stops the jobs whose schedule is over, starts the catch-up runs of missed fires, schedules the others. */
async function schedulePage(deps: RecoveryDeps, page: JobSchedule[], now: Date, report: RecoveryReport, catchUps: Promise<unknown>[]): Promise<void> {
  // Grouped by expression: the cache of parsed cron expressions is small, and missed fire times asked in id order can
  // cycle through more distinct expressions than it holds, missing on every look-up (each miss parses anew).
  // Keys made once per job, not per comparison: 5,000 jobs sorted made ~130,000 throw-away strings a page.
  const keyed = page.map((job) => ({ job, key: scheduleKey(job) }));
  const jobs = keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(({ job }) => job);
  const lastFires = await deps.store.runs.lastScheduledFireTimes(page.map((j) => j.id));
  const missedBy = new Map<number, Date[]>();
  for (const job of jobs) {
    const missed = isOver(job, now) ? [] : missedFireTimes(job, lastFires.get(job.id) ?? null, now);
    if (missed.length > 0) missedBy.set(job.id, missed);
  }
  // Catch-up runs need whole records: one query for the few jobs of a page that missed fires.
  const records = missedBy.size > 0 ? byId(await deps.store.jobs.getMany([...missedBy.keys()])) : new Map<number, JobRecord>();
  for (const job of jobs) {
    if (isOver(job, now)) {
      await deps.store.jobs.update(job.id, { state: 'STOPPED' });
      await deps.engine.event(job, 'stopped', 'system', { reason: job.schedule.type === 'MANUAL' ? 'manual job' : 'the schedule reached endAt while the host was down' });
      report.stopped++;
      continue;
    }
    const record = records.get(job.id);
    if (record) {
      for (const fireAt of missedBy.get(job.id) ?? []) {
        catchUps.push(deps.engine.trigger(record, 'SCHEDULE', 'system', { scheduledAt: fireAt }));
        report.catchUpRuns++;
      }
    }
    deps.engine.scheduleStored(job, now);
    report.rescheduled++;
  }
}

/** Retries that were waiting for their backoff wait again; one whose job is gone by now is interrupted. */
async function resumeRetries(deps: RecoveryDeps, retries: RunRecord[]): Promise<number> {
  if (retries.length === 0) return 0;
  const jobs = byId(await deps.store.jobs.getMany([...new Set(retries.map((run) => run.jobId))]));
  let resumed = 0;
  for (const run of retries) {
    const job = jobs.get(run.jobId);
    if (job && !job.disabled) {
      deps.engine.resume(job, run);
      resumed++;
    } else {
      await deps.store.runWriter.update({
        runId: run.runId,
        status: 'INTERRUPTED',
        endedAt: new Date(),
        error: { name: 'Interrupted', message: 'the retry could not wait across the restart: its job is gone or disabled' },
        run,
      });
    }
  }
  return resumed;
}

async function interruptLeftovers(deps: RecoveryDeps, now: Date): Promise<{ interrupted: RunRecord[]; retries: RunRecord[] }> {
  // Rows written ahead for fire times that had not come yet were never due: they go. Those whose time passed while
  // the host was down were due and did not run: they are interrupted like every other QUEUED run.
  const planned = await deps.store.runs.deletePlanned({ scheduledAfter: now });
  if (planned > 0) deps.logger.info('deleted runs planned for after the restart', { runs: planned });
  // One host owns every run of its database (cluster mode, where hosts share one, will narrow this to the runs of
  // hosts whose lease has lapsed). Filtering by host id here would strand runs whenever the port or hostname changes.
  const open = await deps.store.runs.findByStatus(['RUNNING', 'QUEUED']);
  // A retry waiting for its backoff never started: it is not a leftover but work still to do.
  const retries = open.filter((run) => run.status === 'QUEUED' && run.notBefore !== null);
  const stuck = open.filter((run) => !(run.status === 'QUEUED' && run.notBefore !== null));
  if (stuck.length === 0) return { interrupted: [], retries };
  const indexes = await deps.logs.recover(stuck.map((r) => r.runId));
  await Promise.all(
    stuck.map((run) => {
      const index = indexes.get(run.runId);
      return deps.store.runWriter.update({
        runId: run.runId,
        status: 'INTERRUPTED',
        endedAt: now,
        error: { name: 'Interrupted', message: `the host stopped while the run was ${run.status}` },
        ...(index ? { logFile: index.file, logOffset: index.offset, logLength: index.length } : {}),
        run,
      });
    }),
  );
  return { interrupted: stuck, retries };
}

/** The fire times the job missed while the host was down, after its misfire policy. */
export function missedFireTimes(job: Pick<JobRecord, 'schedule' | 'anchorAt' | 'misfire'>, lastFire: Date | null, now: Date): Date[] {
  if (job.misfire === 'skip') return [];
  // A job anchored at its startAt may fire at the anchor itself (fire times are strictly after `since`).
  const startMs = job.schedule.startAt ? Date.parse(job.schedule.startAt) : null;
  const anchor = job.anchorAt && job.anchorAt.getTime() === startMs ? new Date(startMs - 1) : job.anchorAt;
  const since = latest(lastFire, anchor);
  if (!since) return [];
  // fireOnce: one catch-up run stands for all the missed fires; it carries the first missed fire time.
  return fireTimesBetween(job.schedule, job.anchorAt, since, now, job.misfire === 'fireAll' ? FIRE_ALL_LIMIT : 1);
}

/**
 * A job whose endAt passed while the host was down goes to STOPPED, and so does a MANUAL job without a startAt (only
 * one waiting for its startAt is on the schedule; its missed run at startAt is caught up like any missed fire).
 */
function isOver(job: JobSchedule, now: Date): boolean {
  const endAt = job.schedule.endAt ? new Date(job.schedule.endAt) : null;
  return (job.schedule.type === 'MANUAL' && !job.schedule.startAt) || (endAt !== null && endAt.getTime() <= now.getTime());
}

function byId(jobs: JobRecord[]): Map<number, JobRecord> {
  return new Map(jobs.map((job) => [job.id, job]));
}

function scheduleKey(job: JobSchedule): string {
  return job.schedule.type === 'CRON' ? `${job.schedule.cron}\u0000${job.schedule.timezone ?? ''}` : job.schedule.type;
}

function latest(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a.getTime() >= b.getTime() ? a : b;
}
