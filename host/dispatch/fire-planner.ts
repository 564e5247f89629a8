/**
 * Planning ahead: the scheduler hands over fires before their time; their rows are written now, as QUEUED, their
 * runs are prepared (code resolved, handed to the executor), and at the fire time only admission's concurrency
 * decision and opening the run's gate are left. Fires that will not happen (the job left the schedule, a stop) are
 * dropped: their prepared runs let go and their rows deleted.
 */
import type { JobRecord, RunRecord } from '../domain/index.js';
import type { Admission } from './admission.js';
import type { Bookkeeping } from './bookkeeping.js';
import type { FireReport } from './fire-report.js';
import type { MissedFires } from './missed-fires.js';
import { prepareRun } from './run-life.js';
import type { RunRows } from './run-rows.js';
import type { AbortReason, CommittedRow, DispatcherDeps, FireRequest, PreparedRun } from './types.js';
import { DueTimer } from './due-timer.js';

/**
 * A fire whose row is written ahead of its fire time and whose run is then prepared (code resolved, handed to its
 * executor), so that at the fire time only the concurrency decision and opening the run's gate are left.
 */
interface Planned {
  request: FireRequest;
  row: RunRecord;
  /** Resolves once the row is committed (with it) or refused (null), with the run prepared when committed. */
  written: Promise<CommittedRow | null>;
  /** Set when `written` has settled (undefined before): lets the fire time skip a microtask per fire. */
  committed: CommittedRow | null | undefined;
  prepared: PreparedRun | null;
}

/** The job as it is at launch; undefined when it is gone. */
export type CurrentJob = (jobId: number) => JobRecord | undefined;

/** How many fires over maxRunsInFlight one wake records as SKIPPED rows; the others are counted and logged. */
const OVERLOAD_ROWS_PER_WAKE = 1_000;

export class FirePlanner {
  /** Fires planned ahead, waiting for their fire time. */
  private readonly planTimers = new Map<DueTimer, Planned[]>();
  /** How many fires planTimers holds (unplan may take some out early; the count is only a bound for overload). */
  private plannedCount = 0;
  /** Planned groups whose time has come, while they launch. */
  private readonly launching = new Set<Planned[]>();
  /** Callers of launched(jobId), by the group they wait for. */
  private readonly groupWaiters = new Map<Planned[], (() => void)[]>();

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly rows: RunRows,
    private readonly admission: Admission,
    private readonly book: Bookkeeping,
    private readonly report: FireReport,
    private readonly missed: MissedFires,
    /** Runs the host holds (Dispatcher.inFlight), for the maxRunsInFlight bound. */
    private readonly inFlight: () => number,
  ) {}

  /** Fires planned and not launched yet. */
  get size(): number {
    return this.plannedCount;
  }

  /**
   * Writes the fires' rows now, as QUEUED, and launches each at its fire time. `current` gives the job as it is at
   * launch; a job that is gone by then has its planned row deleted.
   */
  plan(fires: { job: JobRecord; fireAt: Date }[], current: CurrentJob): void {
    if (!this.book.accepting || fires.length === 0) return;
    // The database is down, or it is the bottleneck: another row (even a SKIPPED one) would only deepen it. Counted
    // and noted, not written: the engine runs them under each job's misfire policy once the database takes rows again.
    const { store, config } = this.deps;
    if (!store.health.up || store.runWriter.lagMs >= config.maxRowLagMs) {
      this.noteUnrecorded(fires, store.health.up ? 'row_backlog' : 'db_unavailable');
      return;
    }
    const groups = new Map<number, Planned[]>();
    let room = config.maxRunsInFlight - this.inFlight();
    let overloadRows = OVERLOAD_ROWS_PER_WAKE;
    for (const { job, fireAt } of fires) {
      const request: FireRequest = { job, trigger: 'SCHEDULE', scheduledAt: fireAt };
      if (room-- <= 0) {
        // A SKIPPED row each shows the overload in the run list, up to a bound per wake; the rest are only counted.
        if (overloadRows-- > 0) this.skipOverloaded(request);
        this.report.noteDropped('in_flight');
        continue;
      }
      const row = this.rows.newRow(request, 'QUEUED');
      const planned: Planned = { request, row, written: Promise.resolve(null), committed: undefined, prepared: null };
      planned.written = this.rows.insert(row).then((committed) => {
        planned.committed = committed;
        // ALLOW never queues or skips: the run will start at its fire time, so its executor may take it now.
        const startAt = job.concurrency === 'ALLOW' ? fireAt : undefined;
        if (committed && this.book.accepting) planned.prepared = prepareRun(this.deps, request, committed, startAt);
        return committed;
      });
      const group = groups.get(fireAt.getTime());
      if (group) group.push(planned);
      else groups.set(fireAt.getTime(), [planned]);
    }
    for (const [at, group] of groups) {
      const size = group.length;
      const timer = new DueTimer(at, () => {
        this.planTimers.delete(timer);
        this.plannedCount -= size;
        this.book.track(this.launchPlanned(group, current));
      });
      this.planTimers.set(timer, group);
      this.plannedCount += size;
    }
  }

  /** Scheduled fires that got no row because of the database: counted, and kept for the engine's catch-up. */
  noteUnrecorded(fires: readonly { job: Pick<JobRecord, 'id'>; fireAt: Date }[], reason: 'row_backlog' | 'db_unavailable'): void {
    this.report.noteDropped(reason, fires.length);
    for (const { job, fireAt } of fires) this.missed.note(job.id, fireAt);
  }

  /** A job left the schedule: its fires planned ahead whose time `drops` accepts will not happen. */
  unplan(jobId: number, drops: (fireAt: Date) => boolean): void {
    const dropped: Planned[] = [];
    for (const group of this.planTimers.values()) {
      for (let i = group.length - 1; i >= 0; i--) {
        const { row } = group[i]!;
        if (row.jobId === jobId && drops(row.scheduledAt)) dropped.push(...group.splice(i, 1));
      }
    }
    if (dropped.length === 0) return;
    this.book.track(this.drop(dropped, 'unscheduled'));
  }

  /** Resolves once every fire planned for the job so far has been launched or dropped; at once when it has none. */
  launched(jobId: number): Promise<void> {
    const groups = [...this.planTimers.values(), ...this.launching].filter((group) => group.some((p) => p.row.jobId === jobId));
    return Promise.all(
      groups.map((group) => new Promise<void>((resolve) => this.groupWaiters.set(group, [...(this.groupWaiters.get(group) ?? []), resolve]))),
    ).then(() => undefined);
  }

  /** A stop: no planned fire launches, and what waited for one (a job at its endAt) stays as it is, for the next start. */
  dropAll(): void {
    const planned = [...this.planTimers.values()].flat();
    for (const timer of this.planTimers.keys()) timer.cancel();
    this.planTimers.clear();
    this.groupWaiters.clear();
    this.plannedCount = 0;
    // Not awaited: a run its worker had started is aborted by the drop and may take up to killGraceMs to end, which
    // must not hold back the grace of the runs still going. allTracked waits for it.
    this.book.track(this.drop(planned, 'shutdown'));
  }

  /** A fire over maxRunsInFlight: written as SKIPPED (with why), so the overload shows in the run list. */
  private skipOverloaded(request: FireRequest): void {
    const row = this.rows.newRow(request, 'SKIPPED');
    row.endedAt = new Date();
    row.error = {
      name: 'Skipped',
      code: 'HOST_OVERLOADED',
      message: `skipped: the host already holds ${this.deps.config.maxRunsInFlight} runs (maxRunsInFlight)`,
    };
    this.book.track(this.rows.insert(row));
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
      if (end) this.book.track(end.written);
      else if (dropped[i]!.committed) unstarted.push(dropped[i]!.row.runId);
    }
    await this.rows.discard(unstarted);
  }

  private async launchPlanned(group: Planned[], current: CurrentJob): Promise<void> {
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

  private async launchGroup(group: Planned[], current: CurrentJob): Promise<void> {
    const gone: Planned[] = [];
    const started: RunRecord[] = [];
    for (const planned of group) {
      // Almost always committed long ago; only a committed row may start (admission.ts start).
      const row = planned.committed === undefined ? await planned.written : planned.committed;
      if (!row) continue;
      const job = current(row.jobId);
      if (!job || !this.book.accepting) gone.push(planned);
      else if (job === planned.request.job || (planned.prepared && planned.request.job.concurrency === 'ALLOW')) {
        // A run already handed to its executor (ALLOW) keeps the definition it was planned with: a change applies
        // from the next fire (calling it off now could race its start).
        this.admission.launch(planned.request, row, started, planned.prepared ?? undefined);
      } else {
        // The job changed since its fire was planned: the run starts from the job as it is now.
        this.book.track(planned.prepared?.cancel() ?? Promise.resolve());
        this.admission.launch({ ...planned.request, job }, row, started);
      }
    }
    if (started.length > 0) {
      for (const executor of Object.values(this.deps.executors)) executor?.flush?.();
      this.rows.recordRunningLater(started);
    }
    if (gone.length > 0) await this.drop(gone, this.book.accepting ? 'unscheduled' : 'shutdown');
  }
}
