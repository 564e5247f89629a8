/**
 * The in-process scheduler: ONE timer armed for the earliest next fire time in a heap of (fireAt, jobId). It only
 * decides THAT a job fires at a time and hands the fires to `onFire`; it never runs anything.
 *
 * Why one timer: a timer or croner object per job costs ~80 KB and tens of ms of lag at 1,000 every-second jobs;
 * one timer looping over due entries keeps lag at a few ms (reference/measured-limits.md §3, §4).
 *
 * In-process fire rules (the misfire policy after a restart is applied elsewhere, from the database):
 * - Every due entry is popped and delivered in ONE onFire call per wake (a batch), sorted by fire time then job id.
 * - A job's next fire time is computed after the fire time it just had, not after now, so a late wake (a blocked
 *   event loop) does not silently skip fire times: up to `maxCatchUp` overdue fires are delivered too.
 * - A job more than `maxCatchUp` fires behind is a misfire: only its due fire is delivered, once, and its next fire
 *   time is computed after now (one warning per wake names how many jobs and a few of them). Nothing is ever
 *   delivered twice.
 * - A job whose schedule has no fire time left (past endAt) is dropped and `onEnd(jobId)` is called. Its last fires
 *   are handed over `leadMs` ahead, so onEnd comes before they are due: the receiver lets them run first.
 */
import type { Schedule } from '@jobcenter/job-api';
import { serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { FireHeap } from './heap.js';
import { LruMap } from './lru.js';
import { nextFireMs } from './schedule.js';

export interface SchedulerFire {
  jobId: number;
  fireAt: Date;
}

export interface SchedulerOptions {
  /** Receives every fire due at one wake, in one call. Exceptions are logged; the scheduler keeps going. */
  onFire(fires: SchedulerFire[]): void;
  /** Called when a job's schedule has no fire time left (past endAt); the job is already dropped. */
  onEnd?(jobId: number): void;
  /** Clock in epoch ms (tests). Defaults to Date.now. */
  now?: () => number;
  logger: Logger;
  /** How many overdue fires per job a late wake still delivers before it counts as a misfire (default 3). */
  maxCatchUp?: number;
  /**
   * Deliver fires this many ms before their fire time (default 0), so the receiver can write their run rows ahead
   * and only dispatch at the fire time itself. A fire's `fireAt` is always its real fire time.
   */
  leadMs?: number;
}

interface ScheduledJob {
  schedule: Schedule;
  anchorAt: Date | null;
}

/** How many distinct schedules are shared between the jobs that have them (see add). */
const SHARED_SCHEDULES = 10_000;

/** setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); longer waits re-arm on wake. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Scheduler {
  private readonly heap = new FireHeap();
  private readonly jobs = new Map<number, ScheduledJob>();
  private readonly schedules = new LruMap<string, Schedule>(SHARED_SCHEDULES);
  private readonly now: () => number;
  private readonly maxCatchUp: number;
  private readonly leadMs: number;
  private timer: NodeJS.Timeout | null = null;
  private armedFor: number | null = null;
  private running = false;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
    this.maxCatchUp = options.maxCatchUp ?? 3;
    this.leadMs = options.leadMs ?? 0;
  }

  /**
   * Schedules the job at its first fire time strictly after `after` (default now), replacing any entry it had.
   * When the schedule never fires again, the job is not scheduled; for INTERVAL and CRON, and for a MANUAL schedule
   * with a startAt (its one fire), that means its window has closed, so onEnd(jobId) is called synchronously (MANUAL
   * schedules without a startAt are simply not scheduled).
   * Throws when the schedule cannot be evaluated (it should have passed validateSchedule).
   */
  add(jobId: number, schedule: Schedule, anchorAt: Date | null, after?: Date): void {
    const next = nextFireMs(schedule, anchorAt, after ? after.getTime() : this.now());
    if (next === null) {
      this.remove(jobId);
      if (schedule.type !== 'MANUAL' || schedule.startAt) this.end(jobId);
      return;
    }
    // 100,000 jobs read from the database hold 100,000 copies of a few hundred schedules: they share one of each.
    // Only INTERVAL fires depend on the anchor: a CRON job does not keep its Date (~100 bytes, 10 MB at 100,000 jobs).
    this.jobs.set(jobId, { schedule: this.shared(schedule), anchorAt: schedule.type === 'INTERVAL' ? anchorAt : null });
    this.heap.upsert(jobId, next);
    this.arm();
  }

  /** An equal schedule already held, or this one. Schedules are never changed in place, so sharing is safe. */
  private shared(schedule: Schedule): Schedule {
    const key = JSON.stringify(schedule);
    const held = this.schedules.get(key);
    if (held) return held;
    this.schedules.set(key, schedule);
    return schedule;
  }

  /** Takes the job off the schedule; false when it was not on it. */
  remove(jobId: number): boolean {
    this.jobs.delete(jobId);
    const removed = this.heap.remove(jobId);
    if (removed) this.arm();
    return removed;
  }

  has(jobId: number): boolean {
    return this.heap.has(jobId);
  }

  nextFireOf(jobId: number): Date | null {
    const fireAt = this.heap.fireAtOf(jobId);
    return fireAt === undefined ? null : new Date(fireAt);
  }

  /** The n next fire times on the schedule (of the jobs `accept` takes), earliest first. */
  nextFires(n: number, accept?: (jobId: number) => boolean): { jobId: number; at: Date }[] {
    return this.heap.earliest(n, accept).map((entry) => ({ jobId: entry.jobId, at: new Date(entry.fireAt) }));
  }

  get size(): number {
    return this.heap.size;
  }

  /** Arms the timer; jobs added before start() wait for it. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.arm();
  }

  /** Clears the timer; the schedule stays in memory and start() resumes it. Idempotent. */
  stop(): void {
    this.running = false;
    this.disarm();
  }

  private arm(): void {
    if (!this.running) return;
    const top = this.heap.peek();
    if (!top) {
      this.disarm();
      return;
    }
    if (this.timer && this.armedFor === top.fireAt) return;
    this.disarm();
    const delay = Math.min(Math.max(top.fireAt - this.leadMs - this.now(), 0), MAX_TIMER_MS);
    this.armedFor = top.fireAt;
    // Kept ref'd on purpose: while the scheduler runs, the host must stay up; stop() clears it.
    this.timer = setTimeout(() => this.wake(), delay);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = null;
  }

  /** A timer that fires early (clock skew, clamped long waits) finds nothing due and simply re-arms. */
  private wake(): void {
    this.timer = null;
    this.armedFor = null;
    const { fires, ended } = this.collectDue(this.now() + this.leadMs);
    if (fires.length > 0) {
      try {
        this.options.onFire(fires);
      } catch (err) {
        this.options.logger.error('onFire failed', { fires: fires.length, error: serializeError(err).message });
      }
    }
    for (const jobId of ended) this.end(jobId);
    this.arm();
  }

  /** Pops every entry due at `nowMs` and re-inserts each at its next fire time, which is always after `nowMs`. */
  private collectDue(nowMs: number): { fires: SchedulerFire[]; ended: number[] } {
    const fires: SchedulerFire[] = [];
    const ended: number[] = [];
    const misfired: { jobId: number; fireAt: number }[] = [];
    for (let top = this.heap.peek(); top && top.fireAt <= nowMs; top = this.heap.peek()) {
      const { jobId, fireAt } = top;
      const job = this.jobs.get(jobId);
      const next = job ? this.advance(jobId, job, fireAt, nowMs, fires, misfired) : null;
      if (next === null) {
        this.heap.remove(jobId);
        if (job && this.jobs.delete(jobId)) ended.push(jobId);
      } else {
        this.heap.upsert(jobId, next);
      }
    }
    fires.sort((a, b) => a.fireAt.getTime() - b.fireAt.getTime() || a.jobId - b.jobId);
    if (misfired.length > 0) {
      // One line per wake: a blocked loop can leave 10,000 jobs behind at once, and a line each would add to it.
      this.options.logger.warn('misfire: jobs more than a few fire times behind were fired once and skipped ahead', {
        jobs: misfired.length,
        jobIds: misfired.slice(0, 10).map((m) => m.jobId),
        // nowMs is the wake time plus the lead; the lag is from the wake itself.
        maxLagMs: nowMs - this.leadMs - Math.min(...misfired.slice(0, 1000).map((m) => m.fireAt)),
      });
    }
    return { fires, ended };
  }

  /** Adds the job's due fire (and a few overdue ones) to `fires`; returns its next fire time after now, or null. */
  private advance(
    jobId: number,
    job: ScheduledJob,
    fireAt: number,
    nowMs: number,
    fires: SchedulerFire[],
    misfired: { jobId: number; fireAt: number }[],
  ): number | null {
    fires.push({ jobId, fireAt: new Date(fireAt) });
    try {
      const overdue: number[] = [];
      let next = nextFireMs(job.schedule, job.anchorAt, fireAt);
      while (next !== null && next <= nowMs && overdue.length <= this.maxCatchUp) {
        overdue.push(next);
        next = nextFireMs(job.schedule, job.anchorAt, next);
      }
      if (overdue.length <= this.maxCatchUp) {
        for (const at of overdue) fires.push({ jobId, fireAt: new Date(at) });
        return next;
      }
      misfired.push({ jobId, fireAt });
      return nextFireMs(job.schedule, job.anchorAt, nowMs);
    } catch (err) {
      // Only a schedule that bypassed validation gets here; drop it rather than stall every other job.
      this.options.logger.error('cannot compute the next fire time; job taken off the schedule', {
        jobId,
        error: serializeError(err).message,
      });
      this.jobs.delete(jobId);
      return null;
    }
  }

  private end(jobId: number): void {
    if (!this.options.onEnd) return;
    try {
      this.options.onEnd(jobId);
    } catch (err) {
      this.options.logger.error('onEnd failed', { jobId, error: serializeError(err).message });
    }
  }
}
