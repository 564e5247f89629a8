/**
 * The engine joins the scheduler (when) to dispatch (how): it keeps track of the jobs on the schedule (a small entry
 * each, full records only for some, see ScheduledJobs), turns fires into runs, and moves jobs between STOPPED,
 * PENDING and ACTIVE.
 */
import type { Dispatcher } from '../dispatch/dispatcher.js';
import { notFound, serializeError, unprocessable } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { changeover } from '../scheduler/changeover.js';
import { withinWindow } from '../scheduler/schedule.js';
import { ScheduledJobs } from '../scheduler/scheduled-jobs.js';
import { Scheduler, type SchedulerFire } from '../scheduler/scheduler.js';
import type { JobEventAction, JobRecord, JobSchedule, JobState, RunRecord, RunTrigger } from '../domain/index.js';
import type { Store } from '../store/types.js';

/** The columns of a job a user's change may write (with the state and anchor its schedule leads to). */
export type JobChange = Partial<Omit<JobRecord, 'id' | 'createdAt' | 'updatedAt' | 'projectId'>>;

export interface EngineDeps {
  store: Store;
  dispatcher: Dispatcher;
  logger: Logger;
  /** How long before its fire time a fire's run row is written (0: at the fire time). */
  fireLeadMs?: number;
  /** How many full job records stay in memory (default 32,768); the others are loaded when their fires come. */
  cachedJobs?: number;
}

/** How long past its lead time a handed-over fire may still wait for its row write before it launches. */
const LAUNCH_MARGIN_MS = 5 * 60_000;

export class Engine {
  readonly scheduler: Scheduler;
  private readonly jobs: ScheduledJobs;
  /** Fires whose records are loading; stop() waits for them. */
  private readonly handovers = new Set<Promise<void>>();

  constructor(private readonly deps: EngineDeps) {
    const leadMs = deps.fireLeadMs ?? 0;
    this.jobs = new ScheduledJobs({
      load: (ids) => deps.store.jobs.getMany(ids),
      pinMs: leadMs + LAUNCH_MARGIN_MS,
      ...(deps.cachedJobs !== undefined ? { maxCached: deps.cachedJobs } : {}),
    });
    this.scheduler = new Scheduler({
      logger: deps.logger.child({ part: 'scheduler' }),
      // Fires arrive leadMs early: their rows are written ahead and only dispatch is left at the fire time.
      leadMs,
      onFire: (fires) => this.onFires(fires),
      onEnd: (jobId) => void this.onEnd(jobId),
    });
  }

  start(): void {
    this.scheduler.start();
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    await Promise.all(this.handovers);
  }

  /** Puts a job that is ACTIVE or PENDING in the database on the schedule (start-up, recovery). */
  schedule(job: JobRecord, after = new Date()): void {
    this.place(job, job, after);
  }

  /**
   * Puts a job read without its full record on the schedule (a start-up's pages of schedules); the record is loaded
   * when the job first fires. Only for a job that is not on the schedule yet.
   */
  scheduleStored(job: JobSchedule, after = new Date()): void {
    this.place(job, null, after);
  }

  /** A schedule without a fire time left is ended by the scheduler (onEnd), which takes the job off the list. */
  private place(job: JobSchedule, record: JobRecord | null, after: Date): void {
    if (job.schedule.type === 'MANUAL' && !job.schedule.startAt) return;
    this.jobs.set(job, record);
    this.scheduler.add(job.id, job.schedule, job.anchorAt, after);
  }

  /**
   * User start: ACTIVE, or PENDING until startAt. A MANUAL job runs once now and stays STOPPED; one whose startAt is
   * ahead is PENDING and runs once at startAt.
   */
  async startJob(job: JobRecord, actor: string): Promise<{ job: JobRecord; runId?: string }> {
    const now = new Date();
    const startAt = job.schedule.startAt ? new Date(job.schedule.startAt) : null;
    if (job.schedule.type === 'MANUAL' && !(startAt && startAt.getTime() > now.getTime())) {
      const run = await this.trigger(job, 'MANUAL', actor);
      return { job, runId: run?.runId };
    }
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

  /**
   * Writes a changed job definition and records who changed what. A job on the schedule whose schedule changed moves
   * to the new one (scheduler/changeover.ts): the fires already handed over for the old one run unless they fall
   * outside the new window, and the new schedule takes over after them. Other changes apply from the next launch.
   */
  async updateJob(job: JobRecord, patch: JobChange, actor: string): Promise<JobRecord> {
    const nowMs = Date.now();
    const moved = patch.schedule && job.state !== 'STOPPED' ? changeover(patch.schedule, job.anchorAt, this.jobs.lastFireOf(job.id), nowMs) : null;
    const updated = await this.deps.store.jobs.update(job.id, moved ? { ...patch, state: moved.state, anchorAt: moved.anchorAt } : patch);
    if (!updated) throw notFound(`job ${job.id}`);
    if (moved) this.move(updated, moved.afterMs, nowMs);
    else if (this.jobs.has(job.id)) this.jobs.set(updated, updated);
    // The anchor is the host's bookkeeping; the state is shown when the new schedule changed it.
    const keys: (keyof JobRecord)[] = [...(Object.keys(patch) as (keyof JobRecord)[]), ...(updated.state !== job.state ? ['state' as const] : [])];
    const before = Object.fromEntries(keys.map((key) => [key, job[key] ?? null]));
    const after = Object.fromEntries(keys.map((key) => [key, updated[key] ?? null]));
    await this.event(updated, 'updated', actor, { before, after });
    return updated;
  }

  private move(job: JobRecord, afterMs: number, nowMs: number): void {
    this.scheduler.remove(job.id);
    const onSchedule = job.state !== 'STOPPED';
    // Fire times already due stay: their launch may be a moment late. Those ahead go when the new window leaves them out.
    this.deps.dispatcher.unplan(job.id, (fireAt) => fireAt.getTime() > nowMs && !(onSchedule && withinWindow(job.schedule, fireAt.getTime())));
    if (onSchedule) this.place(job, job, new Date(afterMs));
    else this.jobs.delete(job.id);
  }

  /** Off the schedule, with the fires already planned for it. */
  forget(jobId: number): void {
    this.scheduler.remove(jobId);
    this.jobs.delete(jobId);
    this.deps.dispatcher.unplan(jobId);
  }

  isScheduled(jobId: number): boolean {
    return this.jobs.has(jobId);
  }

  /** A retry a stopped host left waiting (recovery): it runs at its notBefore. */
  resume(job: JobRecord, run: RunRecord): void {
    this.deps.dispatcher.resume(job, run);
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

  /** The n next fires on this host's schedule, of these projects' jobs (undefined: all), earliest first. */
  nextFires(n: number, projectIds?: readonly number[]): { jobId: number; at: Date }[] {
    if (!projectIds) return this.scheduler.nextFires(n);
    const projects = new Set(projectIds);
    return this.scheduler.nextFires(n, (jobId) => projects.has(this.jobs.get(jobId)?.projectId ?? -1));
  }

  private onFires(fires: SchedulerFire[]): void {
    for (const { jobId } of fires) {
      if (!this.jobs.activate(jobId)) continue;
      void this.deps.store.jobs.update(jobId, { state: 'ACTIVE' }).catch((err) => this.warn('could not mark job ACTIVE', jobId, err));
    }
    const handover = this.handOver(fires);
    this.handovers.add(handover);
    void handover.finally(() => this.handovers.delete(handover));
  }

  private async handOver(fires: SchedulerFire[]): Promise<void> {
    try {
      const { fires: planned, current } = await this.jobs.handOver(fires);
      this.deps.dispatcher.plan(planned, current);
    } catch (err) {
      // Without the database the fires cannot be recorded: counted and noted, they are caught up when it is back.
      if (this.deps.store.health.failed(err)) {
        this.deps.dispatcher.noteUnrecorded(fires.map(({ jobId, fireAt }) => ({ job: { id: jobId }, fireAt })), 'db_unavailable');
        return;
      }
      this.deps.logger.error('could not load the jobs of due fires; the fires are skipped', {
        fires: fires.length,
        error: serializeError(err).message,
      });
    }
  }

  /**
   * The schedule has no fire time left. Its last fires were handed over ahead of their time: the job stays on the list
   * until dispatch has launched them, and is stopped then, unless it was started, changed or stopped meanwhile.
   */
  private async onEnd(jobId: number): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job) return;
    // The handover of the fires due at this wake (loading records) is still going: dispatch plans them after it.
    await Promise.all(this.handovers);
    await this.deps.dispatcher.launched(jobId);
    if (this.jobs.get(jobId)?.version !== job.version) return;
    this.jobs.delete(jobId);
    try {
      const stopped = await this.deps.store.jobs.update(jobId, { state: 'STOPPED' });
      const reason = stopped?.schedule.type === 'MANUAL' ? 'it ran once at its startAt' : 'the schedule reached endAt';
      await this.event(job, 'stopped', 'system', { reason });
    } catch (err) {
      this.warn('could not stop a job at endAt', jobId, err);
    }
  }

  async event(job: Pick<JobRecord, 'id' | 'projectId'>, action: JobEventAction, actor: string, details: Record<string, unknown> | null): Promise<void> {
    await this.deps.store.events.add({ jobId: job.id, projectId: job.projectId, action, actor, details });
  }

  private warn(message: string, jobId: number, err: unknown): void {
    this.deps.logger.warn(message, { jobId, error: serializeError(err).message });
  }
}
