/**
 * The engine joins the scheduler (when) to dispatch (how): it keeps the active jobs in memory, turns fires into
 * runs, and moves jobs between STOPPED, PENDING and ACTIVE.
 */
import type { Dispatcher } from '../dispatch/dispatcher.js';
import { serializeError, unprocessable } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { JobEventAction, JobRecord, JobState, RunTrigger, Store } from '../store/types.js';

export interface EngineDeps {
  store: Store;
  dispatcher: Dispatcher;
  logger: Logger;
  /** How long before its fire time a fire's run row is written (0: at the fire time). */
  fireLeadMs?: number;
}

export class Engine {
  readonly scheduler: Scheduler;
  private readonly jobs = new Map<number, JobRecord>();

  constructor(private readonly deps: EngineDeps) {
    this.scheduler = new Scheduler({
      logger: deps.logger.child({ part: 'scheduler' }),
      // Fires arrive leadMs early: their rows are written ahead and only dispatch is left at the fire time.
      leadMs: deps.fireLeadMs ?? 0,
      onFire: (fires) => this.onFires(fires),
      onEnd: (jobId) => void this.onEnd(jobId),
    });
  }

  start(): void {
    this.scheduler.start();
  }

  stop(): void {
    this.scheduler.stop();
  }

  /** Puts a job that is ACTIVE or PENDING in the database on the schedule (start-up, recovery). */
  schedule(job: JobRecord, after = new Date()): void {
    if (job.schedule.type === 'MANUAL') return;
    this.jobs.set(job.id, job);
    this.scheduler.add(job.id, job.schedule, job.anchorAt, after);
    if (!this.scheduler.has(job.id)) this.jobs.delete(job.id);
  }

  /** User start: ACTIVE, or PENDING until startAt. A MANUAL job runs once now and stays STOPPED. */
  async startJob(job: JobRecord, actor: string): Promise<{ job: JobRecord; runId?: string }> {
    if (job.schedule.type === 'MANUAL') {
      const run = await this.trigger(job, 'MANUAL', actor);
      return { job, runId: run?.runId };
    }
    const now = new Date();
    const startAt = job.schedule.startAt ? new Date(job.schedule.startAt) : null;
    const endAt = job.schedule.endAt ? new Date(job.schedule.endAt) : null;
    if (endAt && endAt.getTime() <= now.getTime()) {
      throw unprocessable(`the job's schedule ended at ${endAt.toISOString()} (schedule.endAt)`);
    }
    const state: JobState = startAt && startAt.getTime() > now.getTime() ? 'PENDING' : 'ACTIVE';
    const anchorAt = startAt ?? now;
    const updated = (await this.deps.store.jobs.update(job.id, { state, anchorAt })) ?? job;
    this.scheduler.remove(job.id);
    this.schedule(updated, now);
    await this.event(updated, 'started', actor, { state });
    return { job: updated };
  }

  /**
   * Takes a job off the schedule. Stopping a resolver stops its running sub-jobs too (recursive, as the original's
   * user stop); `recursive: false` leaves them alone.
   */
  async stopJob(job: JobRecord, actor: string, opts: { recursive?: boolean; reason?: string } = {}): Promise<JobRecord> {
    this.forget(job.id);
    const updated = (await this.deps.store.jobs.update(job.id, { state: 'STOPPED' })) ?? job;
    await this.event(updated, 'stopped', actor, opts.reason ? { reason: opts.reason } : null);
    if (opts.recursive !== false) {
      const running = await this.deps.store.jobs.list({ resolverId: job.id, states: ['ACTIVE', 'PENDING'] });
      for (const child of running) await this.stopJob(child, actor, { reason: 'its resolver stopped' });
    }
    return updated;
  }

  /** A changed job definition: reschedule when it is on the schedule. */
  refresh(job: JobRecord): void {
    if (!this.jobs.has(job.id)) return;
    this.scheduler.remove(job.id);
    this.jobs.delete(job.id);
    if (job.state !== 'STOPPED') this.schedule(job);
  }

  /** Off the schedule, with the fires already planned for it. */
  forget(jobId: number): void {
    this.scheduler.remove(jobId);
    this.jobs.delete(jobId);
    this.deps.dispatcher.unplan(jobId);
  }

  async trigger(
    job: JobRecord,
    trigger: RunTrigger,
    actor: string,
    opts: { params?: unknown; scheduledAt?: Date } = {},
  ): Promise<{ runId: string } | null> {
    const run = await this.deps.dispatcher.fire({ job, trigger, scheduledAt: opts.scheduledAt ?? new Date(), params: opts.params });
    if (trigger === 'MANUAL') await this.event(job, 'triggered', actor, run ? { runId: run.runId } : null);
    return run;
  }

  nextFireOf(jobId: number): Date | null {
    return this.scheduler.nextFireOf(jobId);
  }

  private onFires(fires: { jobId: number; fireAt: Date }[]): void {
    const planned: { job: JobRecord; fireAt: Date }[] = [];
    for (const { jobId, fireAt } of fires) {
      const job = this.jobs.get(jobId);
      if (!job) continue;
      if (job.state === 'PENDING') {
        job.state = 'ACTIVE';
        void this.deps.store.jobs.update(job.id, { state: 'ACTIVE' }).catch((err) => this.warn('could not mark job ACTIVE', job, err));
      }
      planned.push({ job, fireAt });
    }
    this.deps.dispatcher.plan(planned, (jobId) => this.jobs.get(jobId));
  }

  private async onEnd(jobId: number): Promise<void> {
    const job = this.jobs.get(jobId);
    this.jobs.delete(jobId);
    if (!job) return;
    try {
      await this.deps.store.jobs.update(jobId, { state: 'STOPPED' });
      await this.event(job, 'stopped', 'system', { reason: 'the schedule reached endAt' });
    } catch (err) {
      this.warn('could not stop a job at endAt', job, err);
    }
  }

  async event(job: JobRecord, action: JobEventAction, actor: string, details: Record<string, unknown> | null): Promise<void> {
    await this.deps.store.events.add({ jobId: job.id, projectId: job.projectId, action, actor, details });
  }

  private warn(message: string, job: JobRecord, err: unknown): void {
    this.deps.logger.warn(message, { jobId: job.id, error: serializeError(err).message });
  }
}
