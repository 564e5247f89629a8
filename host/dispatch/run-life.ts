/**
 * One run from start to final row: resolve its code and config, call the executor with a log, a cache, a signal
 * and a timeout, then record the outcome.
 */
import type { JobSpec, LogLevel } from '@jobcenter/job-api';
import type { HostConfig } from '../config/index.js';
import { serializeError, type SerializedError } from '../errors/index.js';
import type { PathHider } from '../errors/server-paths.js';
import type { RunCache, RunGate, RunHooks, RunOutcome, RunRequest, RunUsage } from '../executors/shared/executor.js';
import type { RunRecord, RunStatus } from '../domain/index.js';
import type { BundleUser } from './bundle-runs.js';
import type {
  AbortReason,
  ActiveRun,
  CommittedRow,
  DispatcherDeps,
  FireRequest,
  LogIndex,
  PreparedRun,
  RunEnd,
  RunLogWriter,
  RunTarget,
} from './types.js';

/**
 * Everything a run needs before its start: the job's code and config, the executor's own preparation. `deps` is
 * the dispatcher's own, shared by every run (a copy of it per run was garbage made on every fire).
 */
export function prepareRun(deps: DispatcherDeps, request: FireRequest, row: RunRecord): PreparedRun;
/** A run its executor may start on its own at `startAt` (a planned ALLOW fire): only on a committed row. */
export function prepareRun(deps: DispatcherDeps, request: FireRequest, row: CommittedRow, startAt: Date | undefined): PreparedRun;
export function prepareRun(deps: DispatcherDeps, request: FireRequest, row: RunRecord, startAt?: Date): PreparedRun {
  return new RunExecution(deps, request, row, startAt);
}

/**
 * One run as ONE object: it is the run's hooks for its executor, its gate, its handle for kill, and what start
 * and cancel act on. A burst holds thousands of these at once, and each closure, promise or AbortController per run
 * is copied by every young-generation GC while the run is in flight, so the AbortController is taken only when an
 * executor asks for `signal`, from the dispatcher's idle ones (idle-controllers.ts), and given back at the run's end.
 */
class RunExecution implements PreparedRun, RunHooks, RunGate, ActiveRun, BundleUser {
  readonly runId: string;
  readonly jobId: number;
  readonly #deps: DispatcherDeps;
  readonly #request: FireRequest;
  readonly #row: RunRecord;
  readonly #startAt: Date | undefined;
  #cache: RunCache | null = null;
  #controller: AbortController | null = null;
  /** The controller's signal, kept: AbortController's `signal` getter runs Node's checks on every read. */
  #signal: AbortSignal | null = null;
  #abortReason: AbortReason | null = null;
  #open = false;
  #waiting: (() => void)[] | null = null;
  #log: RunLogWriter | null = null;
  #target: RunTarget | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** When the job's own code started, as its executor reports it (epoch ms). */
  #ranAt: number | null = null;
  readonly #outcome: Promise<RunOutcome>;

  constructor(deps: DispatcherDeps, request: FireRequest, row: RunRecord, startAt: Date | undefined) {
    this.#deps = deps;
    this.#request = request;
    this.#row = row;
    this.#startAt = startAt;
    this.runId = row.runId;
    this.jobId = request.job.id;
    // A run its executor may start on its own at startAt can log before dispatch's launch gets to it.
    if (startAt) this.#log = deps.logs.open(this.runId, startAt);
    this.#outcome = this.#execute();
  }

  // RunHooks: what the executor sees. The log is open from start() (or from preparation, for a run handed over ahead).
  readonly log = (level: LogLevel, message: string): void => this.#log?.write(level, message);

  /** Made on first use: most runs never touch their cache. */
  get cache(): RunCache {
    if (!this.#cache) {
      const { store } = this.#deps;
      const jobId = this.jobId;
      this.#cache = {
        get: (key) => store.cache.get(jobId, key),
        set: (key, value, ttlMs) => store.cache.set(jobId, key, value, ttlMs),
        delete: (key) => store.cache.delete(jobId, key),
      };
    }
    return this.#cache;
  }

  get signal(): AbortSignal {
    return this.#signal ?? this.#takeSignal();
  }

  #takeSignal(): AbortSignal {
    const controller = this.#deps.controllers?.take() ?? new AbortController();
    if (this.#abortReason) controller.abort(this.#abortReason);
    this.#controller = controller;
    this.#signal = controller.signal;
    return this.#signal;
  }

  started(at: number): void {
    this.#ranAt ??= at;
  }

  /** BundleUser: what a refused bundle delete says of this run. */
  get status(): RunRecord['status'] {
    return this.#row.status;
  }

  get gate(): RunGate {
    return this;
  }

  get startAt(): number | undefined {
    return this.#startAt?.getTime();
  }

  // RunGate
  onOpen(callback: () => void): void {
    if (this.#open) callback();
    else (this.#waiting ??= []).push(callback);
  }

  // ActiveRun
  abort = (reason: AbortReason | 'cancelled'): void => {
    if (this.#abortReason) return;
    this.#abortReason = reason as AbortReason;
    this.#controller?.abort(reason === 'cancelled' ? 'the run was cancelled before it started' : reason);
  };

  // PreparedRun. Synchronous up to the gate when the row already says RUNNING (the planned and the manual path).
  start(register: (run: ActiveRun) => void): Promise<RunEnd> {
    register(this);
    const row = this.#row;
    const { store } = this.#deps;
    if (!row.startedAt) {
      row.startedAt = new Date();
      const startedAt = row.startedAt;
      return store.runWriter.update({ runId: row.runId, status: 'RUNNING', startedAt }).then(() => this.#go(startedAt));
    }
    return this.#go(row.startedAt);
  }

  async cancel(reason?: AbortReason): Promise<RunEnd | null> {
    this.abort(reason ?? 'cancelled');
    this.#openGate();
    const outcome = await this.#outcome;
    if (this.#ranAt === null && !outcome.ok) {
      await this.#log?.end().catch(() => null);
      return null;
    }
    // It ran: its row stays and ends with what happened (the deferred RUNNING write may never have come).
    this.#row.status = 'RUNNING';
    this.#row.startedAt ??= new Date(this.#ranAt ?? Date.now());
    this.#log ??= this.#deps.logs.open(this.runId, this.#row.startedAt);
    return this.#finish();
  }

  #go(startedAt: Date): Promise<RunEnd> {
    this.#log ??= this.#deps.logs.open(this.runId, startedAt);
    this.#openGate();
    return this.#finish();
  }

  #openGate(): void {
    if (this.#open) return;
    this.#open = true;
    const { job } = this.#request;
    // The timeout runs from the moment the run may start.
    const timeoutMs = job.timeoutMs ?? (this.#deps.config.defaultTimeoutMs || null);
    if (timeoutMs && !this.#abortReason) this.#timer = setTimeout(() => this.abort('timeout'), timeoutMs);
    const waiting = this.#waiting;
    this.#waiting = null;
    if (waiting) for (const callback of waiting) callback();
  }

  async #execute(): Promise<RunOutcome> {
    const deps = this.#deps;
    const { job } = this.#request;
    try {
      const target = await deps.targets.resolve(job);
      const executor = deps.executors[job.kind];
      if (!executor) throw new Error(`jobs of kind "${job.kind}" cannot run on this host yet`);
      const { bundle } = target;
      if (bundle && !deps.bundleRuns.use(bundle.id, this)) {
        throw new Error(`bundle version ${bundle.version} of project ${target.projectName} was deleted as this run was starting`);
      }
      this.#target = target;
      const request = runRequest(deps.config, this.#request, this.#row, target);
      let result: RunOutcome;
      try {
        // An executor that prepares waits for the gate itself, after its own preparation; the others start at it.
        if (!executor.prepares && !this.#open) await new Promise<void>((resolve) => this.onOpen(resolve));
        if (!executor.prepares && this.#abortReason) {
          return { ok: false, error: { name: 'AbortError', message: `run aborted before it started: ${this.#abortReason}` }, aborted: true };
        }
        result = await executor.execute(request, this);
      } finally {
        if (this.#timer) clearTimeout(this.#timer);
        this.#giveBackSignal();
        if (bundle) deps.bundleRuns.release(bundle.id, this);
      }
      return result.ok && result.specs ? await reconciled(deps, this.#request, this.runId, result.specs, result, this.log) : result;
    } catch (err) {
      return { ok: false, error: serializeError(err), aborted: false };
    }
  }

  /** The executor is done with the signal: a late kill must not abort the controller another run now holds. */
  #giveBackSignal(): void {
    const controller = this.#controller;
    if (!controller) return;
    this.#controller = null;
    this.#signal = null;
    // Its signal aborted exactly when this run was aborted (an abort before the signal was taken aborts it at once).
    this.#deps.controllers?.give(controller, this.#abortReason !== null);
  }

  async #finish(): Promise<RunEnd> {
    const row = this.#row;
    const request = this.#request;
    const { store, config, logger } = this.#deps;
    const outcome = await this.#outcome;
    // The error is shown to clients (the run row, its log): paths into the bundle become relative to it.
    const ended = outcome.ok ? outcome : { ...outcome, error: withoutServerPaths(outcome.error, this.#deps.hidePaths) };
    const reason = this.#abortReason === ('cancelled' as AbortReason) ? null : this.#abortReason;
    if (!ended.ok) this.log('error', describeFailure(ended.error, reason));
    let index: LogIndex | null = null;
    try {
      index = await this.#log!.end();
    } catch (err) {
      logger.warn('run log could not be written', { runId: row.runId, error: serializeError(err).message });
    }
    row.status = finalStatus(ended, reason);
    row.endedAt = new Date();
    const error = ended.ok ? null : withReason(ended.error, reason, request.job.timeoutMs);
    // The run is over once its final row is queued: the commit comes with the next group write, and whoever needs
    // it committed (a stop, a test) flushes the writer. Waiting for it here would add a write to every run's latency.
    const written = store.runWriter.update({
      runId: row.runId,
      status: row.status,
      bundleId: this.#target?.bundle?.id ?? null,
      // The start goes with the end: a run shorter than the deferred RUNNING write never had its start written.
      startedAt: row.startedAt ?? undefined,
      endedAt: row.endedAt,
      result: ended.ok ? bound(ended.result, config.resultMaxChars) : null,
      error,
      cpuMs: ended.cpuMs ?? null,
      peakMemoryMb: ended.peakMemoryMb ?? null,
      logFile: index?.file ?? null,
      logOffset: index?.offset ?? null,
      logLength: index?.length ?? null,
      run: row,
    });
    // A database that is down keeps the row queued (the writer retries); one that refuses the row (a value it will
    // not take) gets the end without the run's result and error, so the run is never left RUNNING.
    const recorded = written.catch((err: unknown) => {
      const why = serializeError(err).message;
      logger.error('could not record the end of a run; recording it without its result', { runId: row.runId, error: why });
      const failure = { name: 'RecordError', message: `the end of this run could not be recorded in full: ${why}` };
      return store.runWriter
        .update({ runId: row.runId, status: row.status, startedAt: row.startedAt ?? undefined, endedAt: row.endedAt, result: null, error: failure, run: row })
        .catch((again: unknown) => logger.error('could not record the end of a run', { runId: row.runId, error: serializeError(again).message }));
    });
    return { status: row.status, error, written: recorded };
  }
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

function runRequest(config: HostConfig, request: FireRequest, row: RunRecord, target: RunTarget): RunRequest {
  const { job } = request;
  return {
    runId: row.runId,
    job: { id: job.id, name: job.name, project: target.projectName, projectId: job.projectId },
    kind: job.kind,
    entry: job.entry,
    params: request.params !== undefined ? request.params : job.params,
    config: target.config,
    profile: target.profile,
    scheduledAt: request.scheduledAt,
    attempt: row.attempt,
    fencingToken: `${config.hostId}:${job.id}`,
    memoryLimitMb: job.memoryLimitMb,
    shell: job.shell,
    bundle: target.bundle ? { id: target.bundle.id, dir: target.bundle.dir, main: target.bundle.manifest.main ?? null } : null,
    grants: job.grants,
    timeoutMs: job.timeoutMs ?? (config.defaultTimeoutMs || null),
  };
}

/** The resolver's outcome with the reconcile summary as its result; what the run used stays. */
async function reconciled(deps: DispatcherDeps, request: FireRequest, runId: string, specs: readonly JobSpec[], used: RunUsage, log: RunHooks['log']): Promise<RunOutcome> {
  if (!deps.reconcile) throw new Error('this host cannot reconcile resolver output');
  const { cpuMs, peakMemoryMb } = used;
  let summary: string;
  try {
    summary = await deps.reconcile(request.job, specs, runId);
  } catch (err) {
    // The resolver ran: refused specs fail its run, which still says what it used.
    return { ok: false, error: serializeError(err), aborted: false, cpuMs, peakMemoryMb };
  }
  log('info', `resolver reconciled ${specs.length} sub-job spec(s): ${summary}`);
  return { ok: true, result: summary, cpuMs, peakMemoryMb };
}

function bound(result: string | null, max: number): string | null {
  if (result === null) return null;
  return result.length > max ? `${result.slice(0, max - 1)}…` : result;
}

function withoutServerPaths(error: SerializedError, hide: PathHider): SerializedError {
  return { ...error, message: hide(error.message), ...(error.stack === undefined ? {} : { stack: hide(error.stack) }) };
}

function withReason(error: SerializedError, reason: AbortReason | null, timeoutMs: number | null): SerializedError {
  if (reason === 'timeout') return { ...error, name: 'TimeoutError', message: `timed out after ${timeoutMs} ms (${error.message})` };
  if (reason === 'kill') return { ...error, name: 'KilledError', message: `killed (${error.message})` };
  if (reason === 'shutdown') return { ...error, name: 'InterruptedError', message: `interrupted by host shutdown (${error.message})` };
  if (reason === 'unscheduled') {
    return { ...error, name: 'KilledError', message: `called off: the job left the schedule as this run started (${error.message})` };
  }
  return error;
}

function describeFailure(error: SerializedError, reason: AbortReason | null): string {
  const head = reason ? `run ended: ${reason}` : 'run failed';
  return `${head}: ${error.message}${error.stack && !reason ? `\n${error.stack}` : ''}`;
}
