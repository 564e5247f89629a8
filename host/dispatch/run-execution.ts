/**
 * One run from start to final row: resolve its code and config, call the executor with a log, a cache, a signal
 * and a timeout, then record the outcome.
 */
import type { JobSpec } from '@jobcenter/job-api';
import type { HostConfig } from '../config/index.js';
import { serializeError, type SerializedError } from '../errors/index.js';
import type { RunGate, RunHooks, RunOutcome, RunRequest } from '../loader/executor.js';
import type { Logger } from '../log/logger.js';
import type { RunRecord, Store } from '../store/types.js';
import { finalStatus, type AbortReason } from './dispatcher.js';
import type { Executors, FireRequest, LogIndex, Reconciler, RunLogOpener, RunLogWriter, RunTarget, TargetResolver } from './types.js';

export interface ActiveRun {
  runId: string;
  jobId: number;
  abort(reason: AbortReason): void;
}

export interface RunArgs {
  config: HostConfig;
  store: Store;
  executors: Executors;
  logs: RunLogOpener;
  targets: TargetResolver;
  logger: Logger;
  reconcile?: Reconciler;
  request: FireRequest;
  row: RunRecord;
}

export interface ExecuteRunArgs extends RunArgs {
  register(run: ActiveRun): void;
}

/** How the run ended, for the retry decision. */
export interface RunEnd {
  status: RunRecord['status'];
  error: SerializedError | null;
}

/**
 * A run whose code is resolved and handed to its executor ahead of its start: what is left for `start` is to
 * open the gate (thread runs: one message item to a worker), which keeps a burst of planned fires cheap at their
 * fire time.
 */
export interface PreparedRun {
  /** Starts the run now; resolves once its final row is queued. */
  start(register: (run: ActiveRun) => void): Promise<RunEnd>;
  /** The run will not happen: the executor lets go of what it prepared, nothing runs and nothing is written. */
  cancel(): Promise<void>;
}

/** Everything a run needs before its start: the job's code and config, the executor's own preparation. */
export function prepareRun(args: RunArgs): PreparedRun {
  const { request, row, store } = args;
  const controller = new AbortController();
  let abortReason: AbortReason | null = null;
  const abort = (reason: AbortReason): void => {
    if (abortReason) return;
    abortReason = reason;
    controller.abort(reason);
  };
  const gate = new Gate();
  // Opened at start, before the gate: nothing of the run writes to it earlier.
  let log: RunLogWriter | null = null;
  const write: RunHooks['log'] = (level, message) => log?.write(level, message);
  let target: RunTarget | null = null;
  const outcome = (async (): Promise<RunOutcome> => {
    try {
      target = await args.targets.resolve(request.job);
      const result = await runOnExecutor(args, target, { signal: controller.signal, abort }, write, gate);
      return result.ok && result.specs ? await reconciled(args, result.specs, write) : result;
    } catch (err) {
      return { ok: false, error: serializeError(err), aborted: false };
    }
  })();

  async function finish(): Promise<RunEnd> {
    const ended = await outcome;
    if (!ended.ok) write('error', describeFailure(ended.error, abortReason));
    let index: LogIndex | null = null;
    try {
      index = await log!.end();
    } catch (err) {
      args.logger.warn('run log could not be written', { runId: row.runId, error: serializeError(err).message });
    }
    row.status = finalStatus(ended, abortReason);
    row.endedAt = new Date();
    const error = ended.ok ? null : withReason(ended.error, abortReason, request.job.timeoutMs);
    await store.runWriter.update({
      runId: row.runId,
      status: row.status,
      bundleId: target?.bundle?.id ?? null,
      endedAt: row.endedAt,
      result: ended.ok ? bound(ended.result, args.config.resultMaxChars) : null,
      error,
      cpuMs: ended.cpuMs ?? null,
      peakMemoryMb: ended.peakMemoryMb ?? null,
      logFile: index?.file ?? null,
      logOffset: index?.offset ?? null,
      logLength: index?.length ?? null,
    });
    return { status: row.status, error };
  }

  return {
    // Synchronous up to the gate when the row already says RUNNING (the planned and the manual path).
    async start(register) {
      register({ runId: row.runId, jobId: request.job.id, abort });
      if (!row.startedAt) {
        row.startedAt = new Date();
        await store.runWriter.update({ runId: row.runId, status: 'RUNNING', startedAt: row.startedAt });
      }
      log = args.logs.open(row.runId, row.startedAt);
      gate.open();
      return finish();
    },
    async cancel() {
      controller.abort('the run was cancelled before it started');
      gate.open();
      await outcome;
    },
  };
}

/** One run from start to final row, prepared and started at once. */
export function executeRun(args: ExecuteRunArgs): Promise<RunEnd> {
  return prepareRun(args).start(args.register);
}

async function runOnExecutor(
  args: RunArgs,
  target: RunTarget,
  control: { signal: AbortSignal; abort(reason: AbortReason): void },
  log: RunHooks['log'],
  gate: Gate,
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
  let timer: NodeJS.Timeout | null = null;
  // Registered before the executor's callback: the timeout runs from the moment the run may start.
  gate.onOpen(() => {
    if (timeoutMs && !control.signal.aborted) timer = setTimeout(() => control.abort('timeout'), timeoutMs);
  });
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
    // An executor that prepares waits for the gate itself, after its own preparation; the others start at it.
    if (executor.prepares) return await executor.execute(runRequest, { ...hooks, gate });
    await gate.wait();
    if (control.signal.aborted) return { ok: false, error: { name: 'AbortError', message: `run aborted before it started: ${String(control.signal.reason)}` }, aborted: true };
    return await executor.execute(runRequest, hooks);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

async function reconciled(args: RunArgs, specs: readonly JobSpec[], log: RunHooks['log']): Promise<RunOutcome> {
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

/** A run's start signal: opened once, by start() or cancel(). */
class Gate implements RunGate {
  #open = false;
  #waiting: (() => void)[] = [];

  open(): void {
    if (this.#open) return;
    this.#open = true;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const callback of waiting) callback();
  }

  onOpen(callback: () => void): void {
    if (this.#open) callback();
    else this.#waiting.push(callback);
  }

  wait(): Promise<void> {
    return new Promise((resolve) => this.onOpen(resolve));
  }
}
