/**
 * The run rows dispatch writes: a new row for each fire (QUEUED, RUNNING or SKIPPED), status updates, the deferred
 * RUNNING write of planned runs, and the delete of planned rows whose fire will not happen. Writes go through the
 * store's run writer (grouped commits); a refused write is logged here, never thrown.
 */
import { hasCode, serializeError, type SerializedError } from '../errors/index.js';
import type { JobRecord, RunRecord, RunStatus, RunUpdate } from '../domain/index.js';
import type { Bookkeeping } from './bookkeeping.js';
import { RunIds } from './run-id.js';
import type { CommittedRow, DispatcherDeps, FireRequest, QueuedRow } from './types.js';

/** How long after its start a planned run's RUNNING state is written, if it is still running then. */
const RUNNING_WRITE_DELAY_MS = 250;

export class RunRows {
  private readonly runIds = new RunIds();
  /** Started planned runs whose RUNNING state is not written yet (see recordRunningLater). */
  private readonly runningTimers = new Map<NodeJS.Timeout, RunRecord[]>();

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly book: Bookkeeping,
  ) {}

  newRow(request: FireRequest, status: RunStatus): RunRecord {
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

  /** Resolves with the row once it is committed, or with null when refused: a duplicate fire, or a failed write. */
  async insert(row: RunRecord): Promise<CommittedRow | null> {
    try {
      await this.deps.store.runWriter.insert(row);
      return row as CommittedRow;
    } catch (err) {
      if (hasCode(err, 'DUPLICATE_FIRE')) return null;
      this.deps.logger.error('could not record a run', { runId: row.runId, jobId: row.jobId, error: serializeError(err).message });
      return null;
    }
  }

  /** A row read back from the database (a retry a stopped host left QUEUED). */
  stored(row: RunRecord): CommittedRow {
    return row as CommittedRow;
  }

  /** A QUEUED row whose insert was just handed to the writer (see QueuedRow). */
  queued(row: RunRecord): QueuedRow {
    return row as QueuedRow;
  }

  async record(update: RunUpdate): Promise<void> {
    try {
      await this.deps.store.runWriter.update(update);
    } catch (err) {
      this.deps.logger.error('could not record a run', { runId: update.runId, error: serializeError(err).message });
    }
  }

  /** Deletes the rows of planned fires that will not run; a database that does not answer is waited for, up to a stop. */
  async discard(runIds: string[]): Promise<void> {
    const { health } = this.deps.store;
    for (;;) {
      try {
        await this.deps.store.runs.deletePlanned({ runIds });
        return;
      } catch (err) {
        if (!health.failed(err) || !this.book.accepting) {
          // At a stop the rows stay QUEUED: the next start deletes those of fire times still ahead and interrupts the rest.
          this.deps.logger.warn('could not delete planned runs', { runs: runIds.length, error: serializeError(err).message });
          return;
        }
        await Promise.race([health.whenUp(), this.book.stopping]);
      }
    }
  }

  /**
   * The RUNNING state of planned runs is written a little after their start, and only for those still running
   * then: a short run's row goes from QUEUED to its end in one write instead of two (recovery treats QUEUED and
   * RUNNING rows of a stopped host alike, so nothing is lost by the delay).
   */
  recordRunningLater(rows: RunRecord[]): void {
    const timer = setTimeout(() => {
      this.runningTimers.delete(timer);
      this.recordRunning(rows);
    }, RUNNING_WRITE_DELAY_MS);
    this.runningTimers.set(timer, rows);
  }

  /** A stop writes what it knows at once: the runs still going are RUNNING. */
  recordRunningNow(): void {
    for (const [timer, rows] of this.runningTimers) {
      clearTimeout(timer);
      this.recordRunning(rows);
    }
    this.runningTimers.clear();
  }

  private recordRunning(rows: RunRecord[]): void {
    for (const row of rows) {
      if (row.status === 'RUNNING') this.book.track(this.record({ runId: row.runId, status: 'RUNNING', startedAt: row.startedAt! }));
    }
  }
}

export function skipError(admission: 'skip' | 'queue-full', job: JobRecord): SerializedError {
  return admission === 'skip'
    ? { name: 'Skipped', message: 'skipped: the previous run of this job is still running (concurrency SKIP)' }
    : { name: 'Skipped', message: `skipped: the WAIT queue of this job is full (${job.maxQueue})` };
}
