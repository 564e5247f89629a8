/**
 * Dispatch decides how a fire runs: concurrency policy, the run row (committed before the run starts, so a
 * kill -9 never loses a run that executed), the executor call, timeout and kill, the final status and log index.
 * `Dispatcher` is the room's facade: the rest of the host sees only it (and types.ts).
 *
 * One scheduled fire, through the room:
 * 1. scheduler/scheduler.ts wakes `leadMs` ahead of the fire time and hands the fire to services/engine.ts, which
 *    takes the job's record (scheduler/scheduled-jobs.ts `handOver`) and calls `Dispatcher.plan`.
 * 2. fire-planner.ts `plan` writes the row as QUEUED (run-rows.ts `insert`, through the store's run writer) and, once
 *    it is committed (a `CommittedRow`, types.ts: the one place of "the row is committed before the run starts"),
 *    prepares the run (run-life.ts `prepareRun`: code and config resolved, handed to the executor behind a closed
 *    gate). A timer per fire time holds the group.
 * 3. At the fire time, fire-planner.ts `launchGroup` checks the job is still the one planned and calls admission.ts
 *    `launch`: the concurrency decision (job-slots.ts) starts, queues or skips it.
 * 4. admission.ts `start`, the one door into a run's life, calls run-life.ts `start`: the gate opens and the
 *    timeout begins; the RUNNING state is written a little later (run-rows.ts `recordRunningLater`), if still running.
 * 5. The executor's outcome ends the run (run-life.ts `#finish`): log index, final status, the final row queued.
 * 6. admission.ts gives back the job's slot (starting the next queued run) and hands the end to retries.ts, which
 *    writes a RETRY row with its backoff when the job's policy says so.
 * A manual, catch-up or RECOVERY run takes `fire` instead of steps 1-3: admission.ts `fire` makes the concurrency
 * decision, writes the row and starts the run once it is committed. A retry's row waits out its backoff in
 * retries.ts, then goes to admission.ts `launch` as in step 3.
 */
import { unavailable } from '../errors/index.js';
import type { JobRecord, RunRecord, RunStatus } from '../domain/index.js';
import { Admission } from './admission.js';
import { Bookkeeping } from './bookkeeping.js';
import { FirePlanner, type CurrentJob } from './fire-planner.js';
import { FireReport } from './fire-report.js';
import { IdleControllers } from './idle-controllers.js';
import { MissedFires } from './missed-fires.js';
import { Retries, rerunsOnInterrupt } from './retries.js';
import { RunRows } from './run-rows.js';
import type { AbortReason, DispatcherDeps, FireRequest, RunEnd } from './types.js';

export { rerunsOnInterrupt, retryDelay } from './retries.js';
export { finalStatus } from './run-life.js';
export type { AbortReason, DispatcherDeps } from './types.js';

export class Dispatcher {
  /** Fires dropped and runs started late under overload: counted for /metrics, summarised in the log. */
  readonly report: FireReport;
  /** Scheduled fires that got no row because of the database: the engine catches them up when it takes rows again. */
  readonly missed = new MissedFires();
  private readonly book: Bookkeeping;
  private readonly rows: RunRows;
  private readonly admission: Admission;
  private readonly retries: Retries;
  private readonly planner: FirePlanner;

  private readonly deps: DispatcherDeps;

  constructor(given: DispatcherDeps) {
    const deps = { ...given, controllers: given.controllers ?? new IdleControllers() };
    this.deps = deps;
    this.report = new FireReport(deps.logger);
    this.book = new Bookkeeping(deps.logger);
    this.rows = new RunRows(deps, this.book);
    this.admission = new Admission(deps, this.rows, this.book, this.report, this.afterRun);
    this.retries = new Retries(this.rows, this.admission, this.book);
    this.planner = new FirePlanner(deps, this.rows, this.admission, this.book, this.report, this.missed, () => this.inFlight);
  }

  /** Records and starts (or queues, or skips) one run; resolves with its runId once its row is committed. */
  fire(request: FireRequest): Promise<{ runId: string; status: RunStatus } | null> {
    if (!this.book.accepting) return Promise.resolve(null);
    // A manual run asked for while the database does not answer could not be recorded: the caller hears so (503) and
    // may ask again. Retries and catch-up runs are the host's own: their rows wait in the writer for the database.
    if (request.trigger === 'MANUAL' && !this.deps.store.health.up) {
      return Promise.reject(unavailable('the database does not answer, so the run could not be recorded; try again shortly'));
    }
    return this.admission.fire(request);
  }

  /**
   * Fires known ahead (the scheduler hands them over before their time): their rows are written now, as QUEUED,
   * and each is launched at its fire time, when only the concurrency decision and the dispatch are left.
   * `current` gives the job as it is at launch; a job that is gone by then has its planned row deleted.
   */
  plan(fires: { job: JobRecord; fireAt: Date }[], current: CurrentJob): void {
    this.planner.plan(fires, current);
  }

  /**
   * Runs this host holds: planned, queued or running. A planned run whose time has come but whose row is still being
   * written is not counted: the row lag bound (maxRowLagMs) keeps those few.
   */
  get inFlight(): number {
    return this.admission.size + this.planner.size + this.retries.size;
  }

  /** Scheduled fires that got no row because of the database: counted, and kept for the engine's catch-up. */
  noteUnrecorded(fires: readonly { job: Pick<JobRecord, 'id'>; fireAt: Date }[], reason: 'row_backlog' | 'db_unavailable'): void {
    this.planner.noteUnrecorded(fires, reason);
  }

  /**
   * A job left the schedule: its fires planned ahead will not happen, so their rows go now. `drops` narrows it to some
   * fire times (a changed schedule drops those outside its window).
   */
  unplan(jobId: number, drops: (fireAt: Date) => boolean = () => true): void {
    this.planner.unplan(jobId, drops);
  }

  /**
   * Resolves once every fire planned for the job so far has been launched or dropped; at once when it has none. A job
   * whose schedule ended waits for this before it is stopped, so its last fires still find it on the schedule.
   */
  launched(jobId: number): Promise<void> {
    return this.planner.launched(jobId);
  }

  /** Kills a running or queued run. False when this host has no such run. */
  kill(runId: string, reason: AbortReason = 'kill'): boolean {
    return this.admission.kill(runId, reason) || this.retries.kill(runId);
  }

  isActive(runId: string): boolean {
    return this.admission.holds(runId) || this.retries.has(runId);
  }

  /** Resolves once this host no longer holds the run (its final row is queued); at once when it does not hold it. */
  ended(runId: string): Promise<void> {
    if (!this.isActive(runId)) return Promise.resolve();
    return this.admission.whenEnded(runId);
  }

  get activeCount(): number {
    return this.admission.size + this.retries.size;
  }

  /** A retry whose row a stopped host left QUEUED with its notBefore: it runs then (at once when that has passed). */
  resume(job: JobRecord, row: RunRecord): void {
    if (!this.book.accepting || this.isActive(row.runId)) return;
    this.retries.resume(job, row);
  }

  /** Stops taking work, lets runs finish up to graceMs, aborts the rest, marks what is left INTERRUPTED. */
  async shutdown(graceMs: number): Promise<void> {
    this.book.stop();
    this.retries.clear();
    this.planner.dropAll();
    this.rows.recordRunningNow();
    this.admission.interruptQueued();
    await waitFor(() => this.admission.running === 0, graceMs);
    this.admission.abortAll('shutdown');
    await waitFor(() => this.admission.running === 0, this.deps.config.killGraceMs + 2_000);
    // What is left is bookkeeping, mostly writes. A database that does not answer gets the grace time to come back;
    // rows it never takes are settled at the next start (recovery).
    const { health } = this.deps.store;
    const gaveUp = (): boolean => !health.up && Date.now() - (health.downSince?.getTime() ?? Date.now()) >= graceMs;
    await Promise.race([this.book.allTracked(), waitFor(() => this.book.pending === 0 || gaveUp(), Number.MAX_SAFE_INTEGER)]);
    await this.deps.store.runWriter.flush(graceMs);
    this.report.stop();
  }

  /**
   * After a run gave back its slot: a retry when the job's policy says so, and for a run interrupted while the host
   * runs (its worker was ended because of another run) the RECOVERY run a restart would give it: the same fire as
   * recovery's (services/recovery.ts), under the job's onInterrupt. A RECOVERY run interrupted in turn is not run
   * again, so two jobs that keep ending a shared worker cannot loop.
   */
  private readonly afterRun = (request: FireRequest, end: RunEnd): void => {
    this.retries.retryIfDue(request, end);
    if (end.status !== 'INTERRUPTED' || !this.book.accepting || request.trigger === 'RECOVERY' || !rerunsOnInterrupt(request.job)) return;
    this.book.track(this.fire({ job: request.job, trigger: 'RECOVERY', scheduledAt: new Date() }));
  };
}

function waitFor(done: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + ms;
    const check = (): void => {
      if (done() || Date.now() >= deadline) resolve();
      else setTimeout(check, 20);
    };
    check();
  });
}
