/**
 * Dispatch decides how a fire runs: concurrency policy, the run row (committed before the run starts, so a
 * kill -9 never loses a run that executed), the executor call, timeout and kill, the final status and log index.
 */
import type { HostConfig } from '../config/index.js';
import { hasCode, serializeError, unavailable, type SerializedError } from '../errors/index.js';
import type { PathHider } from '../errors/server-paths.js';
import type { RunOutcome } from '../loader/executor.js';
import type { Logger } from '../log/logger.js';
import type { JobRecord, RetryPolicy, RunRecord, RunStatus, RunUpdate } from '../domain/index.js';
import type { Store } from '../store/types.js';
import type { BundleRuns } from './bundle-runs.js';
import { FireReport } from './fire-report.js';
import { JobSlots } from './job-slots.js';
import { MissedFires } from './missed-fires.js';
import { prepareRun, type ActiveRun, type PreparedRun, type RunEnd } from './run-execution.js';
import { RunIds } from './run-id.js';
import type { Executors, FireRequest, Reconciler, RunLogOpener, TargetResolver } from './types.js';

export interface DispatcherDeps {
  config: HostConfig;
  store: Store;
  executors: Executors;
  logs: RunLogOpener;
  targets: TargetResolver;
  /** Which runs use which bundle version, so a version is not deleted under them. */
  bundleRuns: BundleRuns;
  logger: Logger;
  /** Takes the host's folders out of a run's error before clients see it (errors/server-paths.ts). */
  hidePaths: PathHider;
  /** A resolver's run returned sub-job specs: reconcile them; the returned summary becomes the run's result. */
  reconcile?: Reconciler;
}

interface Queued {
  request: FireRequest;
  row: RunRecord;
  /** A planned fire that waits for its turn already prepared. */
  prepared?: PreparedRun;
}

/**
 * A fire whose row is written ahead of its fire time and whose run is then prepared (code resolved, handed to its
 * executor), so that at the fire time only the concurrency decision and opening the run's gate are left.
 */
interface Planned {
  request: FireRequest;
  row: RunRecord;
  /** Resolves once the row is written (true) or refused (false), with the run prepared when written. */
  written: Promise<boolean>;
  /** Set when `written` has settled: lets the fire time skip a microtask per fire. */
  ok: boolean | null;
  prepared: PreparedRun | null;
}

/** `unscheduled`: the job left the schedule (stopped, changed, deleted) just as a run planned for it started. */
export type AbortReason = 'kill' | 'timeout' | 'shutdown' | 'unscheduled';

/** How many fires over maxRunsInFlight one wake records as SKIPPED rows; the others are counted and logged. */
const OVERLOAD_ROWS_PER_WAKE = 1_000;

/** How long after its start a planned run's RUNNING state is written, if it is still running then. */
const RUNNING_WRITE_DELAY_MS = 250;

export class Dispatcher {
  private readonly slots = new JobSlots<Queued>();
  private readonly active = new Map<string, ActiveRun>();
  /** Bookkeeping promises still going (see track); a shutdown waits for them. */
  private tracked = 0;
  private readonly untracked: (() => void)[] = [];
  /** runId → jobId of QUEUED runs, so a kill finds its queue. */
  private readonly queuedJobOf = new Map<string, number>();
  /**
   * Retries waiting for their backoff, by runId. Each has its row already, QUEUED with notBefore: a stop leaves the
   * row as it is and the next start runs it (resume).
   */
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; request: FireRequest; row: RunRecord }>();
  /** Fires planned ahead, waiting for their fire time. */
  private readonly planTimers = new Map<NodeJS.Timeout, Planned[]>();
  /** How many fires planTimers holds (unplan may take some out early; the count is only a bound for overload). */
  private plannedCount = 0;
  /** Planned groups whose time has come, while they launch. */
  private readonly launching = new Set<Planned[]>();
  /** Callers of launched(jobId), by the group they wait for. */
  private readonly groupWaiters = new Map<Planned[], (() => void)[]>();
  /** Fires dropped and runs started late under overload: counted for /metrics, summarised in the log. */
  readonly report: FireReport;
  /** Scheduled fires that got no row because of the database: the engine catches them up when it takes rows again. */
  readonly missed = new MissedFires();
  /** Settles when shutdown begins: what waits for the database stops waiting then. */
  private readonly stopping: Promise<void>;
  private stopped!: () => void;
  /** Callers of ended(runId). */
  private readonly endWaiters = new Map<string, (() => void)[]>();
  /** Started planned runs whose RUNNING state is not written yet (see recordRunningLater). */
  private readonly runningTimers = new Map<NodeJS.Timeout, RunRecord[]>();
  private accepting = true;
  private readonly runIds = new RunIds();

  constructor(private readonly deps: DispatcherDeps) {
    this.report = new FireReport(deps.logger);
    this.stopping = new Promise((resolve) => (this.stopped = resolve));
  }

  /** Records and starts (or queues, or skips) one run; resolves with its runId once its row is committed. */
  async fire(request: FireRequest): Promise<{ runId: string; status: RunStatus } | null> {
    if (!this.accepting) return null;
    // A manual run asked for while the database does not answer could not be recorded: the caller hears so (503) and
    // may ask again. Retries and catch-up runs are the host's own: their rows wait in the writer for the database.
    if (request.trigger === 'MANUAL' && !this.deps.store.health.up) {
      throw unavailable('the database does not answer, so the run could not be recorded; try again shortly');
    }
    const { job } = request;
    const admission = this.slots.admit(job.id, job.concurrency, job.maxQueue);
    const row = this.newRow(request, admission === 'start' ? 'RUNNING' : admission === 'queue' ? 'QUEUED' : 'SKIPPED');
    if (admission === 'skip' || admission === 'queue-full') {
      row.endedAt = new Date();
      row.error = skipError(admission, job);
      return this.insert(row).then((ok) => (ok ? { runId: row.runId, status: row.status } : null));
    }
    if (admission === 'queue') {
      this.slots.enqueue(job.id, { request, row });
      this.queuedJobOf.set(row.runId, job.id);
    }
    // A run whose executor prepares (thread, isolate) is prepared (code resolved, worker or context taken) while its
    // row is committed; its gate opens only after the commit, so "the row is committed before the run starts" holds.
    // The others start after the commit as before: an exec run prepared early measured ~0.5 ms slower.
    const early = admission === 'start' && this.deps.executors[job.kind]?.prepares === true;
    const prepared = early ? prepareRun(this.deps, request, row) : undefined;
    // Tracked, so a stop that begins while the row is being written waits for it, and for what follows.
    const inserted = this.insert(row);
    this.track(inserted);
    const ok = await inserted;
    if (ok && admission === 'start' && !this.accepting) {
      // The host began to stop while the row was written: the run does not start, and its row says so.
      this.track(prepared?.cancel() ?? Promise.resolve());
      this.slots.release(job.id);
      row.status = 'INTERRUPTED';
      const error = { name: 'Interrupted', message: 'the host shut down before the run started' };
      this.track(this.record({ runId: row.runId, status: 'INTERRUPTED', startedAt: null, endedAt: new Date(), error }));
      return { runId: row.runId, status: row.status };
    }
    if (!ok) {
      if (admission === 'queue') {
        this.slots.dequeue(job.id, (q) => q.row.runId === row.runId);
        this.queuedJobOf.delete(row.runId);
      } else {
        await prepared?.cancel();
        this.release(job.id);
      }
      return null;
    }
    if (admission === 'start') this.track(this.start(request, row, prepared));
    return { runId: row.runId, status: row.status };
  }

  /**
   * Fires known ahead (the scheduler hands them over before their time): their rows are written now, as QUEUED,
   * and each is launched at its fire time, when only the concurrency decision and the dispatch are left.
   * `current` gives the job as it is at launch; a job that is gone by then has its planned row deleted.
   */
  plan(fires: { job: JobRecord; fireAt: Date }[], current: (jobId: number) => JobRecord | undefined): void {
    if (!this.accepting || fires.length === 0) return;
    // The database is down, or it is the bottleneck: another row (even a SKIPPED one) would only deepen it. Counted
    // and noted, not written: the engine runs them under each job's misfire policy once the database takes rows again.
    const { store, config } = this.deps;
    if (!store.health.up || store.runWriter.lagMs >= config.maxRowLagMs) {
      this.noteUnrecorded(fires, store.health.up ? 'row_backlog' : 'db_unavailable');
      return;
    }
    const groups = new Map<number, Planned[]>();
    let room = this.deps.config.maxRunsInFlight - this.inFlight;
    let overloadRows = OVERLOAD_ROWS_PER_WAKE;
    for (const { job, fireAt } of fires) {
      const request: FireRequest = { job, trigger: 'SCHEDULE', scheduledAt: fireAt };
      if (room-- <= 0) {
        // A SKIPPED row each shows the overload in the run list, up to a bound per wake; the rest are only counted.
        if (overloadRows-- > 0) this.skipOverloaded(request);
        this.report.noteDropped('in_flight');
        continue;
      }
      const row = this.newRow(request, 'QUEUED');
      const planned: Planned = { request, row, written: Promise.resolve(false), ok: null, prepared: null };
      planned.written = this.insert(row).then((ok) => {
        planned.ok = ok;
        // ALLOW never queues or skips: the run will start at its fire time, so its executor may take it now.
        const startAt = job.concurrency === 'ALLOW' ? fireAt : undefined;
        if (ok && this.accepting) planned.prepared = prepareRun(this.deps, request, row, startAt);
        return ok;
      });
      const group = groups.get(fireAt.getTime());
      if (group) group.push(planned);
      else groups.set(fireAt.getTime(), [planned]);
    }
    for (const [at, group] of groups) {
      const size = group.length;
      const timer = setTimeout(() => {
        this.planTimers.delete(timer);
        this.plannedCount -= size;
        this.track(this.launchPlanned(group, current));
      }, Math.max(0, at - Date.now()));
      this.planTimers.set(timer, group);
      this.plannedCount += size;
    }
  }

  /**
   * Runs this host holds: planned, queued or running. A planned run whose time has come but whose row is still being
   * written is not counted: the row lag bound (maxRowLagMs) keeps those few.
   */
  get inFlight(): number {
    return this.active.size + this.queuedJobOf.size + this.plannedCount + this.retries.size;
  }

  /** Scheduled fires that got no row because of the database: counted, and kept for the engine's catch-up. */
  noteUnrecorded(fires: readonly { job: Pick<JobRecord, 'id'>; fireAt: Date }[], reason: 'row_backlog' | 'db_unavailable'): void {
    this.report.noteDropped(reason, fires.length);
    for (const { job, fireAt } of fires) this.missed.note(job.id, fireAt);
  }

  /** A fire over maxRunsInFlight: written as SKIPPED (with why), so the overload shows in the run list. */
  private skipOverloaded(request: FireRequest): void {
    const row = this.newRow(request, 'SKIPPED');
    row.endedAt = new Date();
    row.error = {
      name: 'Skipped',
      code: 'HOST_OVERLOADED',
      message: `skipped: the host already holds ${this.deps.config.maxRunsInFlight} runs (maxRunsInFlight)`,
    };
    this.track(this.insert(row));
  }

  /**
   * A job left the schedule: its fires planned ahead will not happen, so their rows go now. `drops` narrows it to some
   * fire times (a changed schedule drops those outside its window).
   */
  unplan(jobId: number, drops: (fireAt: Date) => boolean = () => true): void {
    const dropped: Planned[] = [];
    for (const group of this.planTimers.values()) {
      for (let i = group.length - 1; i >= 0; i--) {
        const { row } = group[i]!;
        if (row.jobId === jobId && drops(row.scheduledAt)) dropped.push(...group.splice(i, 1));
      }
    }
    if (dropped.length === 0) return;
    this.track(this.drop(dropped, 'unscheduled'));
  }

  /**
   * Planned fires that will not happen: their prepared runs are let go and their rows deleted. A run its executor
   * had already started on its own timer (ALLOW, handed over ahead) is not a planned fire any more: it is aborted
   * for `reason` and keeps its row, which ends with a real status.
   */
  private async drop(dropped: Planned[], reason: AbortReason): Promise<void> {
    await Promise.all(dropped.map((p) => p.written));
    const ends = await Promise.all(dropped.map((p) => p.prepared?.cancel(reason) ?? null));
    const unstarted: string[] = [];
    for (let i = 0; i < dropped.length; i++) {
      const end = ends[i];
      if (end) this.track(end.written);
      else if (dropped[i]!.ok) unstarted.push(dropped[i]!.row.runId);
    }
    await this.discard(unstarted);
  }

  /**
   * Resolves once every fire planned for the job so far has been launched or dropped; at once when it has none. A job
   * whose schedule ended waits for this before it is stopped, so its last fires still find it on the schedule.
   */
  launched(jobId: number): Promise<void> {
    const groups = [...this.planTimers.values(), ...this.launching].filter((group) => group.some((p) => p.row.jobId === jobId));
    return Promise.all(
      groups.map((group) => new Promise<void>((resolve) => this.groupWaiters.set(group, [...(this.groupWaiters.get(group) ?? []), resolve]))),
    ).then(() => undefined);
  }

  private async launchPlanned(group: Planned[], current: (jobId: number) => JobRecord | undefined): Promise<void> {
    this.launching.add(group);
    try {
      await this.launchGroup(group, current);
    } finally {
      this.launching.delete(group);
      const waiters = this.groupWaiters.get(group);
      this.groupWaiters.delete(group);
      for (const resolve of waiters ?? []) resolve();
    }
  }

  private async launchGroup(group: Planned[], current: (jobId: number) => JobRecord | undefined): Promise<void> {
    const gone: Planned[] = [];
    const started: RunRecord[] = [];
    for (const planned of group) {
      // Almost always written long ago; awaiting keeps "the row is committed before the run starts" true.
      const ok = planned.ok ?? (await planned.written);
      if (!ok) continue;
      const job = current(planned.row.jobId);
      if (!job || !this.accepting) gone.push(planned);
      else if (job === planned.request.job || (planned.prepared && planned.request.job.concurrency === 'ALLOW')) {
        // A run already handed to its executor (ALLOW) keeps the definition it was planned with: a change applies
        // from the next fire (calling it off now could race its start).
        this.launch(planned.request, planned.row, started, planned.prepared ?? undefined);
      } else {
        // The job changed since its fire was planned: the run starts from the job as it is now.
        this.track(planned.prepared?.cancel() ?? Promise.resolve());
        this.launch({ ...planned.request, job }, planned.row, started);
      }
    }
    if (started.length > 0) {
      for (const executor of Object.values(this.deps.executors)) executor?.flush?.();
      this.recordRunningLater(started);
    }
    if (gone.length > 0) await this.drop(gone, this.accepting ? 'unscheduled' : 'shutdown');
  }

  /**
   * The RUNNING state of planned runs is written a little after their start, and only for those still running
   * then: a short run's row goes from QUEUED to its end in one write instead of two (recovery treats QUEUED and
   * RUNNING rows of a stopped host alike, so nothing is lost by the delay).
   */
  private recordRunningLater(rows: RunRecord[]): void {
    const timer = setTimeout(() => {
      this.runningTimers.delete(timer);
      for (const row of rows) {
        if (row.status === 'RUNNING') this.track(this.record({ runId: row.runId, status: 'RUNNING', startedAt: row.startedAt! }));
      }
    }, RUNNING_WRITE_DELAY_MS);
    this.runningTimers.set(timer, rows);
  }

  /** The concurrency decision for a row that is already written as QUEUED; a started row joins `started`. */
  private launch(request: FireRequest, row: RunRecord, started: RunRecord[], prepared?: PreparedRun): void {
    const { job } = request;
    const admission = this.slots.admit(job.id, job.concurrency, job.maxQueue);
    if (admission === 'start') {
      row.status = 'RUNNING';
      row.startedAt = new Date();
      // Fire lag is a scheduled fire's (a retry starts a backoff after the fire time it belongs to, on purpose).
      if (request.trigger === 'SCHEDULE') this.report.noteStart(row.startedAt.getTime() - request.scheduledAt.getTime());
      this.track(this.start(request, row, prepared));
      started.push(row);
    } else if (admission === 'queue') {
      this.slots.enqueue(job.id, { request, row, prepared });
      this.queuedJobOf.set(row.runId, job.id);
    } else {
      row.status = 'SKIPPED';
      if (prepared) this.track(prepared.cancel());
      this.track(this.record({ runId: row.runId, status: 'SKIPPED', endedAt: new Date(), error: skipError(admission, job) }));
    }
  }

  private async record(update: RunUpdate): Promise<void> {
    try {
      await this.deps.store.runWriter.update(update);
    } catch (err) {
      this.deps.logger.error('could not record a run', { runId: update.runId, error: serializeError(err).message });
    }
  }

  /** Deletes the rows of planned fires that will not run; a database that does not answer is waited for, up to a stop. */
  private async discard(runIds: string[]): Promise<void> {
    const { health } = this.deps.store;
    for (;;) {
      try {
        await this.deps.store.runs.deletePlanned({ runIds });
        return;
      } catch (err) {
        if (!health.failed(err) || !this.accepting) {
          // At a stop the rows stay QUEUED: the next start deletes those of fire times still ahead and interrupts the rest.
          this.deps.logger.warn('could not delete planned runs', { runs: runIds.length, error: serializeError(err).message });
          return;
        }
        await Promise.race([health.whenUp(), this.stopping]);
      }
    }
  }

  /** Kills a running or queued run. False when this host has no such run. */
  kill(runId: string, reason: AbortReason = 'kill'): boolean {
    const run = this.active.get(runId);
    if (run) {
      run.abort(reason);
      return true;
    }
    const retry = this.retries.get(runId);
    if (retry) {
      clearTimeout(retry.timer);
      this.retries.delete(runId);
      this.track(this.finishQueued(retry, 'KILLED', 'killed while waiting to retry'));
      return true;
    }
    const jobId = this.queuedJobOf.get(runId);
    const queued = jobId === undefined ? undefined : this.slots.dequeue(jobId, (q) => q.row.runId === runId);
    if (!queued) return false;
    this.queuedJobOf.delete(runId);
    this.track(this.finishQueued(queued, 'KILLED', 'killed while queued'));
    return true;
  }

  isActive(runId: string): boolean {
    return this.active.has(runId) || this.queuedJobOf.has(runId) || this.retries.has(runId);
  }

  /** Resolves once this host no longer holds the run (its final row is queued); at once when it does not hold it. */
  ended(runId: string): Promise<void> {
    if (!this.isActive(runId)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiting = this.endWaiters.get(runId);
      if (waiting) waiting.push(resolve);
      else this.endWaiters.set(runId, [resolve]);
    });
  }

  get activeCount(): number {
    return this.active.size + this.queuedJobOf.size + this.retries.size;
  }

  /** Stops taking work, lets runs finish up to graceMs, aborts the rest, marks what is left INTERRUPTED. */
  async shutdown(graceMs: number): Promise<void> {
    this.accepting = false;
    this.stopped();
    // Their rows stay QUEUED with notBefore: the next start runs them.
    for (const retry of this.retries.values()) clearTimeout(retry.timer);
    this.retries.clear();
    const planned = [...this.planTimers.values()].flat();
    for (const timer of this.planTimers.keys()) clearTimeout(timer);
    this.planTimers.clear();
    // Their fires will not launch: what waited for them (a job at its endAt) stays as it is, for the next start.
    this.groupWaiters.clear();
    this.plannedCount = 0;
    // Not awaited: a run its worker had started is aborted by the drop and may take up to killGraceMs to end, which
    // must not hold back the grace of the runs below. allTracked waits for it.
    this.track(this.drop(planned, 'shutdown'));
    // A stop writes what it knows at once: the runs still going are RUNNING.
    for (const [timer, rows] of this.runningTimers) {
      clearTimeout(timer);
      for (const row of rows) {
        if (row.status === 'RUNNING') this.track(this.record({ runId: row.runId, status: 'RUNNING', startedAt: row.startedAt! }));
      }
    }
    this.runningTimers.clear();
    for (const queued of this.slots.drainQueues()) {
      this.queuedJobOf.delete(queued.row.runId);
      this.track(this.finishQueued(queued, 'INTERRUPTED', 'the host shut down before the run started'));
    }
    await waitFor(() => this.active.size === 0, graceMs);
    for (const run of this.active.values()) run.abort('shutdown');
    await waitFor(() => this.active.size === 0, this.deps.config.killGraceMs + 2_000);
    // What is left is bookkeeping, mostly writes. A database that does not answer gets the grace time to come back;
    // rows it never takes are settled at the next start (recovery).
    const { health } = this.deps.store;
    const gaveUp = (): boolean => !health.up && Date.now() - (health.downSince?.getTime() ?? Date.now()) >= graceMs;
    await Promise.race([this.allTracked(), waitFor(() => this.tracked === 0 || gaveUp(), Number.MAX_SAFE_INTEGER)]);
    await this.deps.store.runWriter.flush(graceMs);
    this.report.stop();
  }

  private async start(request: FireRequest, row: RunRecord, prepared?: PreparedRun): Promise<void> {
    const { job } = request;
    try {
      const run = prepared ?? prepareRun(this.deps, request, row);
      const end = await run.start((active) => this.active.set(row.runId, active));
      this.track(end.written);
      this.retryIfDue(request, end);
      this.rerunIfInterrupted(request, end);
    } catch (err) {
      this.deps.logger.error('run bookkeeping failed', { runId: row.runId, error: serializeError(err).message });
    } finally {
      this.active.delete(row.runId);
      this.notifyEnded(row.runId);
      const next = this.slots.release(job.id);
      if (next) this.track(this.startQueued(next));
    }
  }

  /** FAILED and TIMED_OUT runs retry per the job's policy, unless the job said the failure is unrecoverable. */
  private retryIfDue(request: FireRequest, end: RunEnd): void {
    const policy = request.job.retries;
    const attempt = request.attempt ?? 1;
    if (!policy || attempt > policy.count || !this.accepting) return;
    if (end.status !== 'FAILED' && end.status !== 'TIMED_OUT') return;
    if (end.error?.code === 'UNRECOVERABLE') return;
    const retry: FireRequest = { ...request, trigger: 'RETRY', attempt: attempt + 1 };
    const row = this.newRow(retry, 'QUEUED');
    row.notBefore = new Date(Date.now() + retryDelay(policy, attempt));
    this.track(this.insert(row).then((ok) => ok && this.accepting && this.wait(retry, row)));
  }

  /**
   * A run interrupted while the host runs (its worker was ended because of another run) gets the RECOVERY run a
   * restart would give it: the same fire as recovery's (services/recovery.ts), under the job's onInterrupt. A
   * RECOVERY run interrupted in turn is not run again, so two jobs that keep ending a shared worker cannot loop.
   */
  private rerunIfInterrupted(request: FireRequest, end: RunEnd): void {
    if (end.status !== 'INTERRUPTED' || !this.accepting || request.trigger === 'RECOVERY' || !rerunsOnInterrupt(request.job)) return;
    this.track(this.fire({ job: request.job, trigger: 'RECOVERY', scheduledAt: new Date() }));
  }

  /** A retry whose row a stopped host left QUEUED with its notBefore: it runs then (at once when that has passed). */
  resume(job: JobRecord, row: RunRecord): void {
    if (!this.accepting || this.isActive(row.runId)) return;
    const params = row.params === null ? undefined : row.params;
    this.wait({ job, trigger: row.trigger, scheduledAt: row.scheduledAt, attempt: row.attempt, params }, row);
  }

  /** Holds a written QUEUED row until its notBefore, then makes the concurrency decision as for a planned fire. */
  private wait(request: FireRequest, row: RunRecord): void {
    const timer = setTimeout(() => {
      this.retries.delete(row.runId);
      const started: RunRecord[] = [];
      this.launch(request, row, started);
      if (started.length > 0) this.recordRunningLater(started);
    }, Math.max(0, (row.notBefore?.getTime() ?? 0) - Date.now()));
    this.retries.set(row.runId, { timer, request, row });
  }

  private async startQueued(queued: Queued): Promise<void> {
    this.queuedJobOf.delete(queued.row.runId);
    queued.row.status = 'RUNNING';
    await this.start(queued.request, queued.row, queued.prepared);
  }

  private async finishQueued(queued: Pick<Queued, 'row' | 'prepared'>, status: RunStatus, message: string): Promise<void> {
    const error: SerializedError = { name: status === 'KILLED' ? 'Killed' : 'Interrupted', message };
    queued.row.status = status;
    this.notifyEnded(queued.row.runId);
    await queued.prepared?.cancel();
    await this.deps.store.runWriter.update({ runId: queued.row.runId, status, endedAt: new Date(), error });
  }

  private notifyEnded(runId: string): void {
    if (this.endWaiters.size === 0) return;
    const waiting = this.endWaiters.get(runId);
    if (!waiting) return;
    this.endWaiters.delete(runId);
    for (const resolve of waiting) resolve();
  }

  private async insert(row: RunRecord): Promise<boolean> {
    try {
      await this.deps.store.runWriter.insert(row);
      return true;
    } catch (err) {
      if (hasCode(err, 'DUPLICATE_FIRE')) return false;
      this.deps.logger.error('could not record a run', { runId: row.runId, jobId: row.jobId, error: serializeError(err).message });
      return false;
    }
  }

  private newRow(request: FireRequest, status: RunStatus): RunRecord {
    const now = new Date();
    return {
      runId: this.runIds.next(),
      jobId: request.job.id,
      projectId: request.job.projectId,
      bundleId: null,
      host: this.deps.config.hostId,
      trigger: request.trigger,
      status,
      scheduledAt: request.scheduledAt,
      startedAt: status === 'RUNNING' ? now : null,
      endedAt: null,
      result: null,
      error: null,
      attempt: request.attempt ?? 1,
      cpuMs: null,
      peakMemoryMb: null,
      logFile: null,
      logOffset: null,
      logLength: null,
      notBefore: null,
      params: request.params ?? null,
    };
  }

  private release(jobId: number): void {
    const next = this.slots.release(jobId);
    if (next) this.track(this.startQueued(next));
  }

  /**
   * Follows a promise of the run's bookkeeping, so a shutdown can wait for it. A count, not a set of the promises:
   * a set entry and a `finally` closure per promise were garbage made on every fire.
   */
  private track(promise: Promise<unknown>): void {
    this.tracked++;
    promise.then(this.untrack, this.trackedFailed);
  }

  private readonly untrack = (): void => {
    if (--this.tracked > 0 || this.untracked.length === 0) return;
    for (const resolve of this.untracked.splice(0)) resolve();
  };

  /** Tracked promises catch their own errors; one that does not is logged, never left unhandled. */
  private readonly trackedFailed = (err: unknown): void => {
    this.deps.logger.error('run bookkeeping failed', { error: serializeError(err).message });
    this.untrack();
  };

  private allTracked(): Promise<void> {
    if (this.tracked === 0) return Promise.resolve();
    return new Promise((resolve) => this.untracked.push(resolve));
  }

}

function skipError(admission: 'skip' | 'queue-full', job: JobRecord): SerializedError {
  return admission === 'skip'
    ? { name: 'Skipped', message: 'skipped: the previous run of this job is still running (concurrency SKIP)' }
    : { name: 'Skipped', message: `skipped: the WAIT queue of this job is full (${job.maxQueue})` };
}

/** Maps an outcome and the reason of an abort to the run's final status. */
export function finalStatus(outcome: RunOutcome, abortReason: AbortReason | null): RunStatus {
  if (outcome.ok) return 'SUCCEEDED';
  if (outcome.aborted || abortReason) {
    if (abortReason === 'timeout') return 'TIMED_OUT';
    if (abortReason === 'shutdown') return 'INTERRUPTED';
    return 'KILLED';
  }
  return outcome.interrupted ? 'INTERRUPTED' : 'FAILED';
}

/** An interrupted run of this job gets a RECOVERY run (onInterrupt 'rerun'), after a restart or a neighbour's end. */
export function rerunsOnInterrupt(job: Pick<JobRecord, 'onInterrupt' | 'disabled'>): boolean {
  return job.onInterrupt === 'rerun' && !job.disabled;
}

/** Delay before retry number `attempt` (1 for the first retry): fixed, or doubling from delayMs up to maxDelayMs. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  const { type, delayMs, maxDelayMs } = policy.backoff;
  const raw = type === 'exponential' ? delayMs * 2 ** (attempt - 1) : delayMs;
  return Math.min(raw, maxDelayMs ?? Number.MAX_SAFE_INTEGER, 2_147_483_647);
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

