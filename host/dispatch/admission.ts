/**
 * Admission: the concurrency decision for each fire (start, queue behind the running run, or skip), the WAIT
 * queues, the runs that hold a slot while they run, and the start of a run once its row allows it.
 *
 * `start` is the door into a run's life: it takes only a `CommittedRow` (types.ts, where the rule "a run's row is
 * committed before the run starts" is stated and enforced), or the `QueuedRow` of a WAIT fire whose run goes after
 * its RUNNING write commits.
 */
import { serializeError, type SerializedError } from '../errors/index.js';
import type { RunRecord, RunStatus } from '../domain/index.js';
import type { Bookkeeping } from './bookkeeping.js';
import type { FireReport } from './fire-report.js';
import { JobSlots } from './job-slots.js';
import { prepareRun } from './run-life.js';
import { skipError, type RunRows } from './run-rows.js';
import type { AbortReason, ActiveRun, CommittedRow, DispatcherDeps, FireRequest, PreparedRun, QueuedRow, RunEnd } from './types.js';

export interface Queued {
  request: FireRequest;
  row: CommittedRow | QueuedRow;
  /** A planned fire that waits for its turn already prepared. */
  prepared?: PreparedRun;
}

/** What happens after a run ended and gave back its slot: retries, a RECOVERY run. */
export type AfterRun = (request: FireRequest, end: RunEnd) => void;

export class Admission {
  private readonly slots = new JobSlots<Queued>();
  private readonly active = new Map<string, ActiveRun>();
  /** runId → jobId of QUEUED runs, so a kill finds its queue. */
  private readonly queuedJobOf = new Map<string, number>();
  /** Callers of ended(runId). */
  private readonly endWaiters = new Map<string, (() => void)[]>();

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly rows: RunRows,
    private readonly book: Bookkeeping,
    private readonly report: FireReport,
    private readonly afterRun: AfterRun,
  ) {}

  /** Runs that hold a slot or wait in a queue. */
  get size(): number {
    return this.active.size + this.queuedJobOf.size;
  }

  get running(): number {
    return this.active.size;
  }

  holds(runId: string): boolean {
    return this.active.has(runId) || this.queuedJobOf.has(runId);
  }

  /** Records and starts (or queues, or skips) one run; resolves with its runId once its row is committed. */
  async fire(request: FireRequest): Promise<{ runId: string; status: RunStatus } | null> {
    const { job } = request;
    const admission = this.slots.admit(job.id, job.concurrency, job.maxQueue);
    const row = this.rows.newRow(request, admission === 'start' ? 'RUNNING' : admission === 'queue' ? 'QUEUED' : 'SKIPPED');
    if (admission === 'skip' || admission === 'queue-full') {
      row.endedAt = new Date();
      row.error = skipError(admission, job);
      return this.rows.insert(row).then((committed) => (committed ? { runId: row.runId, status: row.status } : null));
    }
    if (admission === 'queue') {
      this.slots.enqueue(job.id, { request, row: this.rows.queued(row) });
      this.queuedJobOf.set(row.runId, job.id);
    }
    // A run whose executor prepares (thread, isolate) is prepared (code resolved, worker or context taken) while its
    // row is committed; its gate opens only after the commit, so "the row is committed before the run starts" holds.
    // The others start after the commit as before: an exec run prepared early measured ~0.5 ms slower.
    const early = admission === 'start' && this.deps.executors[job.kind]?.prepares === true;
    const prepared = early ? prepareRun(this.deps, request, row) : undefined;
    // Tracked, so a stop that begins while the row is being written waits for it, and for what follows.
    const inserted = this.rows.insert(row);
    this.book.track(inserted);
    const committed = await inserted;
    if (committed && admission === 'start' && !this.book.accepting) {
      // The host began to stop while the row was written: the run does not start, and its row says so.
      this.book.track(prepared?.cancel() ?? Promise.resolve());
      this.slots.release(job.id);
      row.status = 'INTERRUPTED';
      const error = { name: 'Interrupted', message: 'the host shut down before the run started' };
      this.book.track(this.rows.record({ runId: row.runId, status: 'INTERRUPTED', startedAt: null, endedAt: new Date(), error, run: row }));
      return { runId: row.runId, status: row.status };
    }
    if (!committed) {
      if (admission === 'queue') {
        this.slots.dequeue(job.id, (q) => q.row.runId === row.runId);
        this.queuedJobOf.delete(row.runId);
      } else {
        await prepared?.cancel();
        this.release(job.id);
      }
      return null;
    }
    if (admission === 'start') this.book.track(this.start(request, committed, prepared));
    return { runId: row.runId, status: row.status };
  }

  /** The concurrency decision for a row that is already committed as QUEUED; a started row joins `started`. */
  launch(request: FireRequest, row: CommittedRow, started: RunRecord[], prepared?: PreparedRun): void {
    const { job } = request;
    const admission = this.slots.admit(job.id, job.concurrency, job.maxQueue);
    if (admission === 'start') {
      row.status = 'RUNNING';
      row.startedAt = new Date();
      // Fire lag is a scheduled fire's (a retry starts a backoff after the fire time it belongs to, on purpose).
      if (request.trigger === 'SCHEDULE') this.report.noteStart(row.startedAt.getTime() - request.scheduledAt.getTime());
      this.book.track(this.start(request, row, prepared));
      started.push(row);
    } else if (admission === 'queue') {
      this.slots.enqueue(job.id, { request, row, prepared });
      this.queuedJobOf.set(row.runId, job.id);
    } else {
      row.status = 'SKIPPED';
      if (prepared) this.book.track(prepared.cancel());
      this.book.track(this.rows.record({ runId: row.runId, status: 'SKIPPED', endedAt: new Date(), error: skipError(admission, job), run: row }));
    }
  }

  /** Kills a running or queued run. False when no run of this host holds a slot or a place in a queue under runId. */
  kill(runId: string, reason: AbortReason): boolean {
    const run = this.active.get(runId);
    if (run) {
      run.abort(reason);
      return true;
    }
    const jobId = this.queuedJobOf.get(runId);
    const queued = jobId === undefined ? undefined : this.slots.dequeue(jobId, (q) => q.row.runId === runId);
    if (!queued) return false;
    this.queuedJobOf.delete(runId);
    this.book.track(this.finishQueued(queued, 'KILLED', 'killed while queued'));
    return true;
  }

  /** Resolves once the run no longer holds a slot or a queue place (the caller checked that it holds one). */
  whenEnded(runId: string): Promise<void> {
    return new Promise((resolve) => {
      const waiting = this.endWaiters.get(runId);
      if (waiting) waiting.push(resolve);
      else this.endWaiters.set(runId, [resolve]);
    });
  }

  /** A stop: the queued runs will not start, and their rows say so. */
  interruptQueued(): void {
    for (const queued of this.slots.drainQueues()) {
      this.queuedJobOf.delete(queued.row.runId);
      this.book.track(this.finishQueued(queued, 'INTERRUPTED', 'the host shut down before the run started'));
    }
  }

  abortAll(reason: AbortReason): void {
    for (const run of this.active.values()) run.abort(reason);
  }

  async finishQueued(queued: Pick<Queued, 'row' | 'prepared'>, status: RunStatus, message: string): Promise<void> {
    const error: SerializedError = { name: status === 'KILLED' ? 'Killed' : 'Interrupted', message };
    queued.row.status = status;
    this.notifyEnded(queued.row.runId);
    await queued.prepared?.cancel();
    await this.deps.store.runWriter.update({ runId: queued.row.runId, status, endedAt: new Date(), error, run: queued.row });
  }

  /** The only door into a run's life: its row is committed (see the header). */
  private async start(request: FireRequest, row: CommittedRow | QueuedRow, prepared?: PreparedRun): Promise<void> {
    const { job } = request;
    try {
      const run = prepared ?? prepareRun(this.deps, request, row);
      const end = await run.start((active) => this.active.set(row.runId, active));
      this.book.track(end.written);
      this.afterRun(request, end);
    } catch (err) {
      this.deps.logger.error('run bookkeeping failed', { runId: row.runId, error: serializeError(err).message });
    } finally {
      this.active.delete(row.runId);
      this.notifyEnded(row.runId);
      const next = this.slots.release(job.id);
      if (next) this.book.track(this.startQueued(next));
    }
  }

  private async startQueued(queued: Queued): Promise<void> {
    this.queuedJobOf.delete(queued.row.runId);
    queued.row.status = 'RUNNING';
    await this.start(queued.request, queued.row, queued.prepared);
  }

  private release(jobId: number): void {
    const next = this.slots.release(jobId);
    if (next) this.book.track(this.startQueued(next));
  }

  private notifyEnded(runId: string): void {
    if (this.endWaiters.size === 0) return;
    const waiting = this.endWaiters.get(runId);
    if (!waiting) return;
    this.endWaiters.delete(runId);
    for (const resolve of waiting) resolve();
  }
}
