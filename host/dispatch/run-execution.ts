/**
 * One run from start to final row: resolve its code and config, call the executor with a log, a cache, a signal
 * and a timeout, then record the outcome.
 */
import type { JobSpec } from '@jobcenter/job-api';
import type { HostConfig } from '../config/index.js';
import { serializeError, type SerializedError } from '../errors/index.js';
import type { RunHooks, RunOutcome, RunRequest } from '../loader/executor.js';
import type { Logger } from '../log/logger.js';
import type { RunRecord, Store } from '../store/types.js';
import { finalStatus, type AbortReason } from './dispatcher.js';
import type { Executors, FireRequest, LogIndex, Reconciler, RunLogOpener, RunTarget, TargetResolver } from './types.js';

export interface ActiveRun {
  runId: string;
  jobId: number;
  abort(reason: AbortReason): void;
}

export interface ExecuteRunArgs {
  config: HostConfig;
  store: Store;
  executors: Executors;
  logs: RunLogOpener;
  targets: TargetResolver;
  logger: Logger;
  reconcile?: Reconciler;
  request: FireRequest;
  row: RunRecord;
  register(run: ActiveRun): void;
}

/** How the run ended, for the retry decision. */
export interface RunEnd {
  status: RunRecord['status'];
  error: SerializedError | null;
}

export async function executeRun(args: ExecuteRunArgs): Promise<RunEnd> {
  const { request, row, store } = args;
  const controller = new AbortController();
  let abortReason: AbortReason | null = null;
  const abort = (reason: AbortReason): void => {
    if (abortReason) return;
    abortReason = reason;
    controller.abort(reason);
  };
  args.register({ runId: row.runId, jobId: request.job.id, abort });
  if (!row.startedAt) {
    row.startedAt = new Date();
    await store.runWriter.update({ runId: row.runId, status: 'RUNNING', startedAt: row.startedAt });
  }
  const log = args.logs.open(row.runId, row.startedAt);
  let outcome: RunOutcome;
  let target: RunTarget | null = null;
  try {
    target = await args.targets.resolve(request.job);
    outcome = await runOnExecutor(args, target, { signal: controller.signal, abort }, (level, message) =>
      log.write(level, message),
    );
    if (outcome.ok && outcome.specs) outcome = await reconciled(args, outcome.specs, log.write.bind(log));
  } catch (err) {
    outcome = { ok: false, error: serializeError(err), aborted: false };
  }
  if (!outcome.ok) log.write('error', describeFailure(outcome.error, abortReason));
  let index: LogIndex | null = null;
  try {
    index = await log.end();
  } catch (err) {
    args.logger.warn('run log could not be written', { runId: row.runId, error: serializeError(err).message });
  }
  row.status = finalStatus(outcome, abortReason);
  row.endedAt = new Date();
  const error = outcome.ok ? null : withReason(outcome.error, abortReason, request.job.timeoutMs);
  await store.runWriter.update({
    runId: row.runId,
    status: row.status,
    bundleId: target?.bundle?.id ?? null,
    endedAt: row.endedAt,
    result: outcome.ok ? bound(outcome.result, args.config.resultMaxChars) : null,
    error,
    cpuMs: outcome.cpuMs ?? null,
    peakMemoryMb: outcome.peakMemoryMb ?? null,
    logFile: index?.file ?? null,
    logOffset: index?.offset ?? null,
    logLength: index?.length ?? null,
  });
  return { status: row.status, error };
}

async function runOnExecutor(
  args: ExecuteRunArgs,
  target: RunTarget,
  control: { signal: AbortSignal; abort(reason: AbortReason): void },
  log: RunHooks['log'],
): Promise<RunOutcome> {
  const { request, row, config, store } = args;
  const { job } = request;
  const executor = args.executors[job.kind];
  if (!executor) throw new Error(`jobs of kind "${job.kind}" cannot run on this host yet`);
  const runRequest: RunRequest = {
    runId: row.runId,
    job: { id: job.id, name: job.name, project: target.projectName, projectId: job.projectId },
    kind: job.kind,
    entry: job.entry,
    params: request.params !== undefined ? request.params : job.params,
    config: target.config,
    scheduledAt: request.scheduledAt,
    attempt: row.attempt,
    fencingToken: `${config.hostId}:${job.id}`,
    memoryLimitMb: job.memoryLimitMb,
    shell: job.shell,
    bundle: target.bundle ? { id: target.bundle.id, dir: target.bundle.dir, main: target.bundle.manifest.main ?? null } : null,
    grants: job.grants,
    timeoutMs: job.timeoutMs ?? (config.defaultTimeoutMs || null),
  };
  const timeoutMs = job.timeoutMs ?? (config.defaultTimeoutMs || null);
  const timer = timeoutMs ? setTimeout(() => control.abort('timeout'), timeoutMs) : null;
  const hooks: RunHooks = {
    log,
    signal: control.signal,
    cache: {
      get: (key) => store.cache.get(job.id, key),
      set: (key, value, ttlMs) => store.cache.set(job.id, key, value, ttlMs),
      delete: (key) => store.cache.delete(job.id, key),
    },
  };
  try {
    return await executor.execute(runRequest, hooks);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

async function reconciled(args: ExecuteRunArgs, specs: readonly JobSpec[], log: RunHooks['log']): Promise<RunOutcome> {
  if (!args.reconcile) throw new Error('this host cannot reconcile resolver output');
  const summary = await args.reconcile(args.request.job, specs, args.row.runId);
  log('info', `resolver reconciled ${specs.length} sub-job spec(s): ${summary}`);
  return { ok: true, result: summary };
}

function bound(result: string | null, max: number): string | null {
  if (result === null) return null;
  return result.length > max ? `${result.slice(0, max - 1)}…` : result;
}

function withReason(error: SerializedError, reason: AbortReason | null, timeoutMs: number | null): SerializedError {
  if (reason === 'timeout') return { ...error, name: 'TimeoutError', message: `timed out after ${timeoutMs} ms (${error.message})` };
  if (reason === 'kill') return { ...error, name: 'KilledError', message: `killed (${error.message})` };
  if (reason === 'shutdown') return { ...error, name: 'InterruptedError', message: `interrupted by host shutdown (${error.message})` };
  return error;
}

function describeFailure(error: SerializedError, reason: AbortReason | null): string {
  const head = reason ? `run ended: ${reason}` : 'run failed';
  return `${head}: ${error.message}${error.stack && !reason ? `\n${error.stack}` : ''}`;
}
