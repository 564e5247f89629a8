/**
 * Retries: a FAILED or TIMED_OUT run whose job has a retry policy gets a new row, QUEUED with a notBefore, and waits
 * here for its backoff; then admission makes its concurrency decision as for a planned fire. A stop leaves the rows
 * as they are, and the next start resumes them.
 */
import type { JobRecord, RetryPolicy, RunRecord } from '../domain/index.js';
import type { Admission } from './admission.js';
import type { Bookkeeping } from './bookkeeping.js';
import type { RunRows } from './run-rows.js';
import type { CommittedRow, FireRequest, RunEnd } from './types.js';
import { DueTimer } from './due-timer.js';

interface Waiting {
  timer: DueTimer;
  request: FireRequest;
  row: CommittedRow;
}

export class Retries {
  /** Retries waiting for their backoff, by runId. Each has its row already, QUEUED with notBefore. */
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly rows: RunRows,
    private readonly admission: Admission,
    private readonly book: Bookkeeping,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  has(runId: string): boolean {
    return this.waiting.has(runId);
  }

  /** FAILED and TIMED_OUT runs retry per the job's policy, unless the job said the failure is unrecoverable. */
  retryIfDue(request: FireRequest, end: RunEnd): void {
    const policy = request.job.retries;
    const attempt = request.attempt ?? 1;
    if (!policy || attempt > policy.count || !this.book.accepting) return;
    if (end.status !== 'FAILED' && end.status !== 'TIMED_OUT') return;
    if (end.error?.code === 'UNRECOVERABLE') return;
    const retry: FireRequest = { ...request, trigger: 'RETRY', attempt: attempt + 1 };
    const row = this.rows.newRow(retry, 'QUEUED');
    row.notBefore = new Date(Date.now() + retryDelay(policy, attempt));
    this.book.track(this.rows.insert(row).then((committed) => committed && this.book.accepting && this.wait(retry, committed)));
  }

  /** A retry whose row a stopped host left QUEUED with its notBefore: it runs then (at once when that has passed). */
  resume(job: JobRecord, row: RunRecord): void {
    const params = row.params === null ? undefined : row.params;
    this.wait({ job, trigger: row.trigger, scheduledAt: row.scheduledAt, attempt: row.attempt, params }, this.rows.stored(row));
  }

  kill(runId: string): boolean {
    const retry = this.waiting.get(runId);
    if (!retry) return false;
    retry.timer.cancel();
    this.waiting.delete(runId);
    this.book.track(this.admission.finishQueued(retry, 'KILLED', 'killed while waiting to retry'));
    return true;
  }

  /** A stop: the rows stay QUEUED with notBefore, and the next start runs them. */
  clear(): void {
    for (const retry of this.waiting.values()) retry.timer.cancel();
    this.waiting.clear();
  }

  /** Holds a written QUEUED row until its notBefore, then makes the concurrency decision as for a planned fire. */
  private wait(request: FireRequest, row: CommittedRow): void {
    const timer = new DueTimer(row.notBefore?.getTime() ?? 0, () => {
      this.waiting.delete(row.runId);
      const started: RunRecord[] = [];
      this.admission.launch(request, row, started);
      if (started.length > 0) this.rows.recordRunningLater(started);
    });
    this.waiting.set(row.runId, { timer, request, row });
  }
}

/** Delay before retry number `attempt` (1 for the first retry): fixed, or doubling from delayMs up to maxDelayMs. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  const { type, delayMs, maxDelayMs } = policy.backoff;
  const raw = type === 'exponential' ? delayMs * 2 ** (attempt - 1) : delayMs;
  return Math.min(raw, maxDelayMs ?? Number.MAX_SAFE_INTEGER, 2_147_483_647);
}

/** An interrupted run of this job gets a RECOVERY run (onInterrupt 'rerun'), after a restart or a neighbour's end. */
export function rerunsOnInterrupt(job: Pick<JobRecord, 'onInterrupt' | 'disabled'>): boolean {
  return job.onInterrupt === 'rerun' && !job.disabled;
}
