/**
 * The `isolate` executor: runs a named export of a bundle's single CommonJS main inside an isolated-vm isolate with
 * a memory limit, in the host process. Each run gets a fresh context in an isolate of its (project, bundle version,
 * memory limit) that serves no other run meanwhile; only the JobContext crosses in (see isolate-prelude.ts).
 *
 * Failure handling (platform-notes §1, measured-limits §5): every isolated-vm promise is awaited or caught — an
 * uncaught disposal error kills the process on exit; an isolate that V8 disposed at its memory limit, that we
 * disposed after a kill or that burnt its CPU budget is dropped, and the next run gets a new one.
 */
import type { HostConfig } from '../../config/index.js';
import { reasonText, serializeError } from '../../errors/index.js';
import type { Logger } from '../../log/logger.js';
import { CurrentVersions } from '../shared/current-versions.js';
import { abortedOutcome, failure, type Executor, type RunHooks, type RunOutcome, type RunRequest } from '../shared/executor.js';
import { isCpuTimeoutError, isMemoryLimitError } from './isolate-main.js';
import { IsolatePool, type IsolateKey, type IsolateSlot } from './isolate-pool.js';
import type { RunReply } from './isolate-protocol.js';
import { runInSlot, type RunEnd } from './isolate-run.js';
import { readTaskResult, unreadableRunError } from '../shared/wire-read.js';

/** Memory limit of an isolate when the job sets none (isolated-vm's minimum is 8 MB). */
export const DEFAULT_ISOLATE_MEMORY_MB = 64;
/** CPU budget of a run without a timeout: generous, but `while (true) {}` still ends. */
export const DEFAULT_CPU_LIMIT_MS = 60_000;
const MAX_IDLE_PER_KEY = 2;
/** Recycling bounds whatever V8 keeps per context inside a long-lived isolate; a new isolate costs ~2 ms. */
const MAX_RUNS_PER_ISOLATE = 5_000;
const CLOSE_WAIT_MS = 2_000;
/**
 * How long an abandoned run waits for its isolate to show as disposed (it stops waiting as soon as it does). 250 ms
 * was too short on a loaded machine (load average 8 on 2 cores): a memory bomb ended "Promise was abandoned" instead
 * of naming the memory limit.
 */
const ABANDON_WAIT_MS = 2_000;

export interface IsolateExecutor extends Executor {
  /** Live isolates (idle and busy): metrics, and tests that prove nothing leaked. */
  isolateCount(): number;
  /** Heap in use of every live isolate, in bytes (tests that prove runs leave nothing behind). */
  heapUsed(): number[];
}

export interface IsolateExecutorOptions {
  /** An isolate is replaced after this many runs (default 5,000); tests set Infinity to prove nothing grows. */
  readonly maxRunsPerIsolate?: number;
  /** Idle isolates kept per (project, bundle, memory limit), also the most made for runs back to back (default 2). */
  readonly maxIdlePerKey?: number;
}

export function createIsolateExecutor(deps: { config: HostConfig; logger: Logger; options?: IsolateExecutorOptions }): IsolateExecutor {
  const { config } = deps;
  const logger = deps.logger.child({ component: 'isolate-executor' });
  const maxRunsPerIsolate = deps.options?.maxRunsPerIsolate ?? MAX_RUNS_PER_ISOLATE;
  const pool = new IsolatePool({ logger, maxIdlePerKey: deps.options?.maxIdlePerKey ?? MAX_IDLE_PER_KEY, maxRunsPerIsolate, spareLoadTimeoutMs: DEFAULT_CPU_LIMIT_MS });
  // A newer bundle id for a project retires the isolates of older ones, until the host names the current version.
  const versions = new CurrentVersions((projectId, bundleId) => pool.retire(projectId, bundleId));
  const inFlight = new Set<Promise<RunOutcome>>();
  let closed = false;

  async function run(request: RunRequest, hooks: RunHooks): Promise<RunOutcome> {
    if (closed) return abortedOutcome('the isolate executor is closed');
    if (hooks.signal.aborted) return abortedOutcome(`run aborted before it started: ${reasonText(hooks.signal.reason)}`);
    const bundle = request.bundle;
    if (!bundle || !bundle.main) return failure({ name: 'Error', message: 'an isolate job needs a bundle with a main script' });
    if (typeof request.entry !== 'string') return failure({ name: 'Error', message: 'an isolate job entry must be an export name' });
    const key: IsolateKey = { projectId: request.job.projectId, bundleId: bundle.id, memoryLimitMb: request.memoryLimitMb ?? DEFAULT_ISOLATE_MEMORY_MB };
    versions.isCurrent(key.projectId, key.bundleId);
    let slot: IsolateSlot;
    try {
      slot = await pool.acquire(key, `${bundle.dir}/${bundle.main}`);
    } catch (err) {
      return failure({ ...serializeError(err), message: `the bundle's main script could not be loaded: ${serializeError(err).message}` });
    }
    const cpuLimitMs = request.timeoutMs || DEFAULT_CPU_LIMIT_MS;
    try {
      const { end, usage } = await runInSlot(slot, request, request.entry, hooks, { pool, killGraceMs: config.killGraceMs, cpuLimitMs });
      if (!end) return abortedOutcome(`run aborted before it started: ${reasonText(hooks.signal.reason)}`);
      if (!('reply' in end) && isAbandoned(end)) await settleDisposal(slot);
      const outcome = toOutcome(end, { slot, hooks, cpuLimitMs, killGraceMs: config.killGraceMs, resultMaxChars: config.resultMaxChars });
      // An isolate that failed under a run (not the job's own error) is not trusted with the next one.
      if (!('reply' in end)) pool.dispose(slot, 'failed');
      // Its heap got as far as its limit, whatever the last reading before V8 disposed it showed. Only toOutcome's own
      // verdict counts: a job's reply may carry an error of that name too.
      const atLimit = !('reply' in end) && !outcome.ok && outcome.error.name === 'MemoryLimitError';
      const peakMemoryMb = atLimit ? Math.max(usage.peakMemoryMb ?? 0, key.memoryLimitMb) : usage.peakMemoryMb;
      return { ...outcome, cpuMs: usage.cpuMs, peakMemoryMb };
    } finally {
      slot.runs++;
      pool.release(slot);
    }
  }

  return {
    // The slot and its loaded context are taken before the gate opens (see isolate-run.ts), the entry call after.
    prepares: true,
    execute(request, hooks) {
      const running = run(request, hooks).catch((err: unknown) => failure(serializeError(err)));
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
      return running;
    },
    async retire(projectId, keepBundleId) {
      versions.retired(projectId, keepBundleId);
      pool.retire(projectId, keepBundleId);
    },
    async close() {
      closed = true;
      pool.disposeAll('closed');
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
    },
    isolateCount: () => pool.isolateCount(),
    heapUsed: () => pool.heapUsed(),
  };
}

/** "Promise was abandoned": the isolate dropped the run, usually because V8 is disposing it at its memory limit. */
function isAbandoned(end: RunEnd): boolean {
  return 'thrown' in end && end.thrown instanceof Error && /Promise was abandoned/.test(end.thrown.message);
}

/** V8 reports the abandoned promise before the isolate shows as disposed; give it a moment to say which. */
async function settleDisposal(slot: IsolateSlot): Promise<void> {
  for (let waited = 0; waited < ABANDON_WAIT_MS && !slot.isolate.isDisposed; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface EndContext {
  readonly slot: IsolateSlot;
  readonly hooks: RunHooks;
  readonly cpuLimitMs: number;
  readonly killGraceMs: number;
  readonly resultMaxChars: number;
}

/** Maps how a run ended onto an outcome; our own reasons (kill, CPU, close) win over what isolated-vm said. */
function toOutcome(end: RunEnd, ctx: EndContext): RunOutcome {
  const aborted = ctx.hooks.signal.aborted;
  const by = ctx.slot.disposedBy;
  if (by === 'killed') {
    return abortedOutcome(`run did not stop within ${ctx.killGraceMs} ms after abort (${reasonText(ctx.hooks.signal.reason)}); its isolate was disposed`);
  }
  if (by === 'closed') return abortedOutcome('the isolate executor was closed while the run was in flight');
  if (by === 'cpu') return failure({ name: 'CpuLimitError', message: `job used more than its CPU time limit of ${ctx.cpuLimitMs} ms; its isolate was disposed` }, aborted);
  if ('reply' in end) return replyOutcome(end.reply, ctx);
  const error = 'thrown' in end ? end.thrown : 'error' in end.forced ? end.forced.error : undefined;
  if (ctx.slot.isolate.isDisposed || isMemoryLimitError(error)) {
    const said = isMemoryLimitError(error) ? (error as Error).message : 'Isolate was disposed during execution due to memory limit';
    return failure({ name: 'MemoryLimitError', message: `job exceeded its memory limit of ${ctx.slot.key.memoryLimitMb} MB (${said})` }, aborted);
  }
  if (isCpuTimeoutError(error)) {
    return failure({ name: 'CpuLimitError', message: `job ran longer than its CPU time limit of ${ctx.cpuLimitMs} ms without yielding (Script execution timed out)` }, aborted);
  }
  return failure(serializeError(error), aborted);
}

/**
 * A run that ended after hooks.signal aborted counts as aborted, whatever the job returned on its way out. The reply
 * is a copy out of the job's context, read like anything a worker sends (wire-read.ts).
 */
function replyOutcome(sent: RunReply, ctx: EndContext): RunOutcome {
  const reply = readTaskResult(sent);
  if (typeof reply === 'string') return failure(unreadableRunError(reply), ctx.hooks.signal.aborted);
  if (ctx.hooks.signal.aborted) {
    const error = reply.ok ? { name: 'AbortError', message: `run aborted: ${reasonText(ctx.hooks.signal.reason)}` } : reply.error;
    return { ok: false, error, aborted: true };
  }
  if (!reply.ok) return { ok: false, error: reply.error, aborted: false };
  const result = reply.result !== null && reply.result.length > ctx.resultMaxChars ? reply.result.slice(0, ctx.resultMaxChars) : reply.result;
  return reply.specs ? { ok: true, result, specs: reply.specs } : { ok: true, result };
}
