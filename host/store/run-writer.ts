/**
 * Group commit for run rows. Calls queue up; a drain writes them in batches (one INSERT of up to batchSize new runs,
 * then one UPDATE of up to the rest), and each call's promise settles when its own row is committed. Writing row by
 * row through sequelize caps a host at ~1,300 runs/s on SQLite; batches lift that about 15× (measured-limits §2).
 *
 * Order per run: an update whose insert is still queued is merged into it; one whose row is being written (its
 * insert or an earlier update) stays queued until that write is committed. Up to `maxInFlight` batches are written
 * at once (a server database: the next batch goes while the last one commits); a batch never holds a run that one
 * in flight holds, so the writes of one run are committed in the order they were made.
 *
 * A run's final row is not on anyone's path (the run is over once it is queued), while a fire's insert and a start's
 * RUNNING update are: the run waits for them. So final rows wait for company up to `finalDelayMs` and go when that is
 * up, when a batch is full, or on flush(); the other rows go at once and never queue behind another run's end. A lone
 * run's end on SQLite (its UPDATE and rollup, ~0.3-0.6 ms) had sat in front of the next fire's insert.
 *
 * A batch that fails because the database cannot be reached (health.ts) is not lost: its rows go back to the queue,
 * merged with what came for the same runs meanwhile, and are written when the database answers again. So the end of
 * a run that finished during an outage is recorded when it is over, without a restart.
 */
import { conflict, HostError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { DatabaseHealth } from './health.js';
import type { RunSink } from './run-sink.js';
import type { RunRecord, RunUpdate } from '../domain/index.js';
import type { RunWriter } from './types.js';
import { isFinalStatus } from './run-rollups.js';

export interface RunWriterOptions {
  /** Rows per batch (default 1,000). */
  batchSize?: number;
  /** How long a lone call waits for company before its batch goes (default 0: the next setImmediate). */
  batchDelayMs?: number;
  /** How long a final row may wait for company (default 10 ms; see above). 0: it goes with the next batch. */
  finalDelayMs?: number;
  /** Rough cap of result + error text per batch, to stay inside MySQL's max_allowed_packet (default 2M chars). */
  maxBatchChars?: number;
  /** Batches written at once (default 1; more only helps a database that writes on several connections). */
  maxInFlight?: number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface Queued<T> {
  row: T;
  waiters: Waiter[];
  /** When it was queued (ms): the oldest queued row says how far the database is behind. */
  at: number;
}

interface Batch {
  inserts: Queued<RunRecord>[];
  updates: Queued<RunUpdate>[];
}

export class BatchedRunWriter implements RunWriter {
  private inserts = new Map<string, Queued<RunRecord>>();
  private updates = new Map<string, Queued<RunUpdate>>();
  private readonly batchSize: number;
  private readonly batchDelayMs: number;
  private readonly maxBatchChars: number;
  private readonly maxInFlight: number;
  private timer: { cancel(): void } | null = null;
  private readonly finalDelayMs: number;
  /** Runs while final rows wait for company; when it fires, they are due. */
  private finalTimer: NodeJS.Timeout | null = null;
  private finalsDue = false;
  /** flush() calls under way: everything queued is due. */
  private flushing = 0;
  /** Runs whose rows are in a batch being written: their next writes wait for it. */
  private readonly writing = new Set<string>();
  private lanes = 0;
  /** Settles when no batch is being written any more. */
  private draining: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  private closed = false;
  /** Rows committed since the last check phase, whose callers hear of it in the next one (see committed()). */
  private toResolve: Queued<unknown>[][] = [];

  constructor(
    private readonly sink: RunSink,
    private readonly logger: Logger,
    options: RunWriterOptions = {},
    private readonly health: Pick<DatabaseHealth, 'up' | 'failed' | 'whenUp' | 'onChange'> = ALWAYS_UP,
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? 1_000);
    this.batchDelayMs = Math.max(0, options.batchDelayMs ?? 0);
    this.finalDelayMs = Math.max(0, options.finalDelayMs ?? 10);
    this.maxBatchChars = Math.max(1, options.maxBatchChars ?? 2_000_000);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    health.onChange((up) => {
      if (up && this.queued() > 0) void this.kick();
    });
  }

  insert(run: RunRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    if (this.inserts.has(run.runId)) return Promise.reject(conflict(`run ${run.runId} is already being inserted`));
    return this.enqueue((waiter) => this.inserts.set(run.runId, { row: { ...run }, waiters: [waiter], at: Date.now() }));
  }

  update(update: RunUpdate): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return this.enqueue((waiter) => {
      const queued = this.inserts.get(update.runId) ?? this.updates.get(update.runId);
      if (queued) {
        mergeInto(queued.row, update);
        queued.waiters.push(waiter);
      } else {
        this.updates.set(update.runId, { row: { ...update }, waiters: [waiter], at: Date.now() });
      }
      if (isFinalStatus(update.status) && !this.inserts.has(update.runId)) this.waitForFinals();
    });
  }

  get backlog(): number {
    return this.queued();
  }

  get lagMs(): number {
    // Maps keep insertion order and batches take from their heads: the first entry of each is its oldest.
    const insert = this.inserts.values().next().value;
    const update = this.updates.values().next().value;
    const oldest = Math.min(insert?.at ?? Infinity, update?.at ?? Infinity);
    return oldest === Infinity ? 0 : Date.now() - oldest;
  }

  async flush(maxWaitMs = Infinity): Promise<boolean> {
    const deadline = Date.now() + maxWaitMs;
    this.flushing++;
    try {
      while (this.queued() > 0 || this.draining) {
        if (this.health.up) await this.kick();
        else if (!(await within(this.health.whenUp(), deadline - Date.now()))) return false;
      }
      return true;
    } finally {
      this.flushing--;
    }
  }

  /** Writes what is queued (waiting up to maxWaitMs for a database that does not answer), then refuses new calls. */
  async close(maxWaitMs = Infinity): Promise<void> {
    this.closed = true;
    if (!(await this.flush(maxWaitMs))) {
      this.logger.error('run rows could not be written before the store closed; the next start marks their runs INTERRUPTED', { rows: this.queued() });
    }
    this.clearTimer();
    if (this.finalTimer) clearTimeout(this.finalTimer);
    this.finalTimer = null;
  }

  private enqueue(add: (waiter: Waiter) => void): Promise<void> {
    const done = new Promise<void>((resolve, reject) => add({ resolve, reject }));
    if (this.queued() >= this.batchSize) void this.kick();
    else this.schedule();
    return done;
  }

  private queued(): number {
    return this.inserts.size + this.updates.size;
  }

  private schedule(): void {
    // A full set of lanes picks new rows up as soon as one of its batches is committed: no timer needed then.
    if (this.timer || this.lanes >= this.maxInFlight) return;
    // Delay 0 is group commit proper: rows queued in the same tick share one write (setImmediate runs after them),
    // and rows that arrive while the writes are in flight share the next one; a lone row waits for no timer.
    if (this.batchDelayMs === 0) {
      const immediate = setImmediate(() => void this.kick());
      this.timer = { cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(() => void this.kick(), this.batchDelayMs);
      this.timer = { cancel: () => clearTimeout(timeout) };
    }
  }

  private clearTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** A final row waits: it and the ones after it become due in finalDelayMs. */
  private waitForFinals(): void {
    if (this.finalsDue || this.finalTimer) return;
    if (this.finalDelayMs === 0) {
      this.finalsDue = true;
      return;
    }
    this.finalTimer = setTimeout(() => {
      this.finalTimer = null;
      this.finalsDue = true;
      void this.kick();
    }, this.finalDelayMs);
  }

  /** Starts lanes for what can be written now; settles when no batch is being written. */
  private kick(): Promise<void> {
    this.clearTimer();
    this.fill();
    return this.draining ?? Promise.resolve();
  }

  private fill(): void {
    while (this.lanes < this.maxInFlight && this.health.up) {
      const batch = this.takeBatch();
      if (batch.inserts.length + batch.updates.length === 0) return;
      if (this.lanes++ === 0) this.draining = new Promise((resolve) => (this.drained = resolve));
      void this.lane(batch);
    }
  }

  /** Writes its batch, then the next ones, until nothing it may take is left. Never rejects. */
  private async lane(first: Batch): Promise<void> {
    // A database that went down ends the lane: its rows wait in the queue for health's probe, not in a loop here.
    for (let batch = first; batch.inserts.length + batch.updates.length > 0; batch = this.health.up ? this.takeBatch() : NO_BATCH) {
      try {
        await this.write(batch);
      } catch (err) {
        // write() settles every row itself; this is the net under a bug there, so no caller waits forever.
        this.logger.error('run batch write failed', { rows: batch.inserts.length + batch.updates.length, error: String(err) });
        for (const queued of [...batch.inserts, ...batch.updates]) rejectAll(queued, err);
      } finally {
        for (const queued of batch.inserts) this.writing.delete(queued.row.runId);
        for (const queued of batch.updates) this.writing.delete(queued.row.runId);
      }
      // Rows that waited for this batch, or that came meanwhile, may go on another lane too.
      this.fill();
    }
    if (--this.lanes > 0) return;
    const drained = this.drained;
    this.draining = null;
    this.drained = null;
    drained?.();
    if (this.queued() > 0) this.schedule();
  }

  private takeBatch(): Batch {
    const batch: Batch = { inserts: [], updates: [] };
    let chars = 0;
    // A full batch's worth queued: nothing waits for company then.
    const finals = this.finalsDue || this.flushing > 0 || this.queued() >= this.batchSize;
    // Whether final rows stay queued: left waiting (not due), or due and left (a full batch, a run being written).
    let finalWaits = false;
    let finalLeft = false;
    const take = <T extends RunRecord | RunUpdate>(from: Map<string, Queued<T>>, into: Queued<T>[], isUpdate: boolean) => {
      for (const [runId, queued] of from) {
        const size = batch.inserts.length + batch.updates.length;
        if (size >= this.batchSize || (size > 0 && chars >= this.maxBatchChars)) {
          finalLeft = true;
          return;
        }
        const final = isUpdate && isFinalStatus(queued.row.status);
        if (this.writing.has(runId)) {
          finalLeft ||= final;
          continue;
        }
        if (final && !finals) {
          finalWaits = true;
          continue;
        }
        chars += textSize(queued.row);
        into.push(queued);
        from.delete(runId);
        this.writing.add(runId);
      }
    };
    take(this.inserts, batch.inserts, false);
    take(this.updates, batch.updates, true);
    if (finals) this.finalsDue = this.finalsDue && finalLeft;
    else if (finalWaits) this.waitForFinals();
    return batch;
  }

  private async write(batch: Batch): Promise<void> {
    if (batch.inserts.length > 0) await this.writeInserts(batch.inserts);
    if (batch.updates.length > 0) {
      try {
        await this.sink.updateMany(batch.updates.map((queued) => queued.row));
        this.committed(batch.updates);
      } catch (err) {
        if (this.health.failed(err)) this.requeueUpdates(batch.updates);
        else for (const queued of batch.updates) rejectAll(queued, err);
      }
    }
  }

  /**
   * Rows of a batch the database could not take go back to the head of their queue (they are the oldest, which lagMs
   * reads from the head). An update of the same run that came while the batch was out is newer: it is merged in.
   */
  private requeueInserts(failed: Queued<RunRecord>[]): void {
    const inserts = new Map<string, Queued<RunRecord>>();
    for (const queued of failed) inserts.set(queued.row.runId, this.withNewer(queued));
    for (const [runId, queued] of this.inserts) inserts.set(runId, queued);
    this.inserts = inserts;
  }

  private requeueUpdates(failed: Queued<RunUpdate>[]): void {
    const updates = new Map<string, Queued<RunUpdate>>();
    for (const queued of failed) updates.set(queued.row.runId, this.withNewer(queued));
    for (const [runId, queued] of this.updates) updates.set(runId, queued);
    this.updates = updates;
  }

  /** Takes a queued update of the same run into a row that failed to be written. */
  private withNewer<T extends RunRecord | RunUpdate>(queued: Queued<T>): Queued<T> {
    const newer = this.updates.get(queued.row.runId);
    if (!newer) return queued;
    this.updates.delete(queued.row.runId);
    mergeInto(queued.row, newer.row);
    queued.waiters.push(...newer.waiters);
    return queued;
  }

  /**
   * Committed rows tell their callers in the next check phase, not now: a caller that hears of its row starts its
   * run (a burst of fires: milliseconds of work on this thread), and the lane's next statement, which is sent within
   * the current microtasks, then goes to the database before that work instead of after it. Measured on SQLite: the
   * database sat idle for a quarter of a throughput run while the fires of its last insert were being started.
   */
  private committed(rows: Queued<unknown>[]): void {
    if (this.toResolve.length === 0) setImmediate(() => this.resolveCommitted());
    this.toResolve.push(rows);
  }

  private resolveCommitted(): void {
    const groups = this.toResolve;
    this.toResolve = [];
    for (const rows of groups) for (const queued of rows) resolveAll(queued);
  }

  private async writeInserts(inserts: Queued<RunRecord>[]): Promise<void> {
    try {
      await this.sink.insertMany(inserts.map((queued) => queued.row));
      this.committed(inserts);
    } catch (err) {
      if (this.health.failed(err)) {
        this.requeueInserts(inserts);
        return;
      }
      if (!this.sink.isUniqueViolation(err)) {
        this.logger.warn('run batch insert failed', { rows: inserts.length, error: String(err) });
        for (const queued of inserts) rejectAll(queued, err);
        return;
      }
      // One row broke a unique index: write them one by one so only the duplicates fail.
      for (const queued of inserts) await this.insertAlone(queued);
    }
  }

  private async insertAlone(queued: Queued<RunRecord>): Promise<void> {
    try {
      await this.sink.insertMany([queued.row]);
      this.committed([queued]);
    } catch (err) {
      const run = queued.row;
      if (this.health.failed(err)) {
        this.requeueInserts([queued]);
        return;
      }
      // The insert was committed before the connection carrying its answer was lost, and sent again: the row is there,
      // and what it holds now (updates merged in while it waited) is written over it.
      if (this.sink.isRunIdConflict(err)) {
        await this.updateExisting(queued);
        return;
      }
      rejectAll(
        queued,
        this.sink.isFireConflict(err)
          ? new HostError('DUPLICATE_FIRE', `job ${run.jobId} already has a run for ${run.scheduledAt.toISOString()}`, {
              jobId: run.jobId,
              scheduledAt: run.scheduledAt.toISOString(),
            })
          : err,
      );
    }
  }
  private async updateExisting(queued: Queued<RunRecord>): Promise<void> {
    const { runId, status, bundleId, startedAt, endedAt, result, error, cpuMs, peakMemoryMb, logFile, logOffset, logLength } = queued.row;
    const update: RunUpdate = { runId, status, bundleId, startedAt, endedAt, result, error, cpuMs, peakMemoryMb, logFile, logOffset, logLength };
    const asUpdate: Queued<RunUpdate> = { row: update, waiters: queued.waiters, at: queued.at };
    try {
      await this.sink.updateMany([update]);
      this.committed([asUpdate]);
    } catch (err) {
      if (this.health.failed(err)) this.requeueUpdates([asUpdate]);
      else rejectAll(asUpdate, err);
    }
  }

}

const NO_BATCH: Batch = { inserts: [], updates: [] };

const ALWAYS_UP = { up: true, failed: () => false, whenUp: () => Promise.resolve(), onChange: () => undefined };

/** Whether the promise settled within ms (it is left to settle on its own when not). */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  if (ms === Infinity) {
    await promise;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  const settled = await Promise.race([promise.then(() => true), timedOut]);
  clearTimeout(timer);
  return settled;
}

function mergeInto(row: RunRecord | RunUpdate, update: RunUpdate): void {
  for (const [key, value] of Object.entries(update)) {
    // A queued insert is the run itself: the facts an update carries for the rollup are its own already.
    if (value !== undefined && !(key === 'run' && 'jobId' in row)) (row as unknown as Record<string, unknown>)[key] = value;
  }
}

function textSize(row: RunRecord | RunUpdate): number {
  const error = row.error ? row.error.message.length + (row.error.stack?.length ?? 0) : 0;
  return 200 + (row.result?.length ?? 0) + error;
}

function resolveAll(queued: Queued<unknown>): void {
  for (const waiter of queued.waiters) waiter.resolve();
}

function rejectAll(queued: Queued<unknown>, err: unknown): void {
  for (const waiter of queued.waiters) waiter.reject(err);
}
