/**
 * The run-row contract, as a client reads a run (GET /api/v1/runs, /runs/:id). Every end-to-end suite calls
 * checkRunContract on every finished run it reads, so a fast path that drops a field fails where it is used.
 *
 * A finished run has a final status, an end, and when it started a start no later than its end and a duration that
 * is the difference. Runs that never started (SKIPPED, or KILLED / INTERRUPTED while queued) have no start and say
 * why in their error.
 */
import assert from 'node:assert/strict';

export const FINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'KILLED', 'SKIPPED', 'INTERRUPTED'] as const;
const TRIGGERS = ['SCHEDULE', 'MANUAL', 'RETRY', 'RECOVERY'];
/** Statuses only a run that started can end with. */
const STARTED_ONLY = ['SUCCEEDED', 'FAILED', 'TIMED_OUT'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ContractRun {
  runId: string;
  jobId: number;
  projectId: number;
  host: string;
  trigger: string;
  status: string;
  scheduledAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  attempt: number;
  result: string | null;
  error: { name?: string; message: string; stack?: string; code?: string } | null;
  cpuMs: number | null;
  peakMemoryMb: number | null;
}

export interface ContractOptions {
  /** The run must carry CPU time and peak memory (it ran on an executor that measures them). */
  resources?: boolean;
}

/** Asserts the contract on one finished run; returns it for chaining. */
export function checkRunContract<T extends ContractRun>(run: T, options: ContractOptions = {}): T {
  const where = `run ${run.runId} (${run.trigger} ${run.status})`;
  assert.match(run.runId, UUID, `${where}: runId is a UUID`);
  assert.ok(Number.isInteger(run.jobId) && run.jobId > 0, `${where}: jobId`);
  assert.ok(Number.isInteger(run.projectId) && run.projectId > 0, `${where}: projectId`);
  assert.ok(typeof run.host === 'string' && run.host.length > 0, `${where}: host`);
  assert.ok(TRIGGERS.includes(run.trigger), `${where}: trigger is one of ${TRIGGERS.join(', ')}`);
  assert.ok((FINAL_STATUSES as readonly string[]).includes(run.status), `${where}: status is final`);
  assert.ok(Number.isInteger(run.attempt) && run.attempt >= 1, `${where}: attempt >= 1`);
  assert.ok(isTime(run.scheduledAt), `${where}: scheduledAt is a time`);
  assert.ok(run.endedAt !== null && isTime(run.endedAt), `${where}: endedAt is set`);
  if (run.startedAt === null) {
    assert.ok(!STARTED_ONLY.includes(run.status), `${where}: a ${run.status} run has a startedAt`);
    assert.equal(run.durationMs, null, `${where}: a run that never started has no duration`);
    assert.ok(run.error && run.error.message.length > 0, `${where}: a run that never started says why`);
    return run;
  }
  assert.ok(isTime(run.startedAt), `${where}: startedAt is a time`);
  const started = Date.parse(run.startedAt);
  const ended = Date.parse(run.endedAt!);
  assert.ok(started <= ended, `${where}: startedAt ${run.startedAt} <= endedAt ${run.endedAt}`);
  assert.equal(run.durationMs, ended - started, `${where}: durationMs is endedAt - startedAt`);
  if (run.status === 'SUCCEEDED') assert.equal(run.error, null, `${where}: a success has no error`);
  else assert.ok(run.error && run.error.message.length > 0, `${where}: a ${run.status} run says why`);
  if (options.resources) {
    assert.ok(typeof run.cpuMs === 'number' && run.cpuMs >= 0, `${where}: cpuMs is known`);
    assert.ok(typeof run.peakMemoryMb === 'number' && run.peakMemoryMb > 0, `${where}: peakMemoryMb is known`);
  }
  return run;
}

/** Checks every finished run of a list; runs still QUEUED or RUNNING are left alone. Returns the finished ones. */
export function checkFinishedRuns<T extends ContractRun>(runs: readonly T[], options: ContractOptions = {}): T[] {
  const finished = runs.filter((run) => run.status !== 'QUEUED' && run.status !== 'RUNNING');
  for (const run of finished) checkRunContract(run, options);
  return finished;
}

function isTime(value: unknown): boolean {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value));
}
