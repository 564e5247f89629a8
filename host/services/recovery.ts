/**
 * What a start does after a crash or a stop: runs left RUNNING or QUEUED become INTERRUPTED (their spilled logs
 * kept), jobs that were ACTIVE or PENDING are scheduled again, missed fire times found from the database are
 * handled by each job's misfire policy, and onInterrupt 'rerun' starts a RECOVERY run.
 */
import type { LogIndex } from '../dispatch/types.js';
import { serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { fireTimesBetween } from '../scheduler/schedule.js';
import type { JobRecord, RunRecord, Store } from '../store/types.js';
import type { Engine } from './engine.js';

export interface RecoveryDeps {
  store: Store;
  engine: Engine;
  logs: { recover(runIds: string[]): Promise<Map<string, LogIndex>> };
  logger: Logger;
}

export interface RecoveryReport {
  interrupted: number;
  rescheduled: number;
  stopped: number;
  catchUpRuns: number;
  recoveryRuns: number;
}

const FIRE_ALL_LIMIT = 1_000;

export async function recover(deps: RecoveryDeps, now = new Date()): Promise<RecoveryReport> {
  const report: RecoveryReport = { interrupted: 0, rescheduled: 0, stopped: 0, catchUpRuns: 0, recoveryRuns: 0 };
  const interrupted = await interruptLeftovers(deps, now);
  report.interrupted = interrupted.length;
  // Grouped by expression: the scheduler's cache of parsed cron expressions is bounded, and jobs in id order can
  // cycle through more distinct expressions than it holds, missing on every look-up (each miss parses anew).
  const jobs = (await deps.store.jobs.list({ states: ['ACTIVE', 'PENDING'] })).sort((a, b) => scheduleKey(a).localeCompare(scheduleKey(b)));
  const lastFires = await deps.store.runs.lastScheduledFireTimes(jobs.map((j) => j.id));
  const catchUps: Promise<unknown>[] = [];
  for (const job of jobs) {
    const endAt = job.schedule.endAt ? new Date(job.schedule.endAt) : null;
    if (job.schedule.type === 'MANUAL' || (endAt && endAt.getTime() <= now.getTime())) {
      await deps.store.jobs.update(job.id, { state: 'STOPPED' });
      await deps.engine.event(job, 'stopped', 'system', { reason: job.schedule.type === 'MANUAL' ? 'manual job' : 'the schedule reached endAt while the host was down' });
      report.stopped++;
      continue;
    }
    const missed = missedFireTimes(job, lastFires.get(job.id) ?? null, now);
    for (const fireAt of missed) {
      catchUps.push(deps.engine.trigger(job, 'SCHEDULE', 'system', { scheduledAt: fireAt }));
      report.catchUpRuns++;
    }
    deps.engine.schedule(job, now);
    report.rescheduled++;
  }
  const byId = new Map(jobs.map((j) => [j.id, j]));
  for (const run of interrupted) {
    const job = byId.get(run.jobId) ?? (await deps.store.jobs.get(run.jobId));
    if (job?.onInterrupt === 'rerun' && !job.disabled) {
      catchUps.push(deps.engine.trigger(job, 'RECOVERY', 'system', { scheduledAt: now }));
      report.recoveryRuns++;
    }
  }
  await Promise.all(catchUps.map((p) => p.catch((err) => deps.logger.warn('catch-up run failed', { error: serializeError(err).message }))));
  deps.logger.info('recovery done', { ...report });
  return report;
}

async function interruptLeftovers(deps: RecoveryDeps, now: Date): Promise<RunRecord[]> {
  // Rows written ahead for fire times that had not come yet were never due: they go. Those whose time passed while
  // the host was down were due and did not run: they are interrupted like every other QUEUED run.
  const planned = await deps.store.runs.deletePlanned({ scheduledAfter: now });
  if (planned > 0) deps.logger.info('deleted runs planned for after the restart', { runs: planned });
  // One host owns every run of its database (cluster mode, where hosts share one, will narrow this to the runs of
  // hosts whose lease has lapsed). Filtering by host id here would strand runs whenever the port or hostname changes.
  const stuck = await deps.store.runs.findByStatus(['RUNNING', 'QUEUED']);
  if (stuck.length === 0) return [];
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
      });
    }),
  );
  return stuck;
}

/** The fire times the job missed while the host was down, after its misfire policy. */
export function missedFireTimes(job: JobRecord, lastFire: Date | null, now: Date): Date[] {
  if (job.misfire === 'skip') return [];
  const since = latest(lastFire, job.anchorAt);
  if (!since) return [];
  // fireOnce: one catch-up run stands for all the missed fires; it carries the first missed fire time.
  return fireTimesBetween(job.schedule, job.anchorAt, since, now, job.misfire === 'fireAll' ? FIRE_ALL_LIMIT : 1);
}

function scheduleKey(job: JobRecord): string {
  return job.schedule.type === 'CRON' ? `${job.schedule.cron}\u0000${job.schedule.timezone ?? ''}` : job.schedule.type;
}

function latest(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a.getTime() >= b.getTime() ? a : b;
}
