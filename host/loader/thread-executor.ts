/**
 * The `thread` executor: runs a named export of a bundle's main module in a worker thread of the project's piscina
 * pool (one pool per project, bundle version and memory limit). Kill = abort message to the job, then after
 * killGraceMs the piscina task is aborted, which terminates the worker (the only way to stop `while(true){}`).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HostConfig } from '../config/index.js';
import { serializeError, type SerializedError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { Executor, RunHooks, RunOutcome, RunRequest } from './executor.js';
import type { ThreadTask, ThreadTaskResult } from './protocol.js';
import { openHostRun, reasonText } from './run-port.js';
import { CurrentVersions, PoolRegistry, type PoolEntry } from './thread-pools.js';

export { reasonText };

/** Idle workers exit after this long; the pool starts them again on demand. */
const IDLE_TIMEOUT_MS = 30_000;
/** How long to wait for a finished run's last log lines (they travel on another port than the result). */
const LOG_FLUSH_MS = 1_000;

export interface ThreadExecutor extends Executor {
  /** Live worker threads over all pools (metrics, and tests that prove nothing leaked). */
  threadCount(): number;
}

export function createThreadExecutor(deps: { config: HostConfig; logger: Logger }): ThreadExecutor {
  const { config } = deps;
  const logger = deps.logger.child({ component: 'thread-executor' });
  const pools = new PoolRegistry({ maxThreads: config.threadsPerProject, idleTimeoutMs: IDLE_TIMEOUT_MS, logger });
  const versions = new CurrentVersions((projectId, bundleId) => void pools.retire(projectId, bundleId));
  let closed = false;

  async function execute(request: RunRequest, hooks: RunHooks): Promise<RunOutcome> {
    if (closed) return abortedOutcome('the thread executor is closed');
    if (hooks.signal.aborted) return abortedOutcome(`run aborted before it started: ${reasonText(hooks.signal.reason)}`);
    const bundle = request.bundle;
    if (!bundle || !bundle.main) return failure({ name: 'Error', message: 'a thread job needs a bundle with a main module' });
    if (typeof request.entry !== 'string') return failure({ name: 'Error', message: 'a thread job entry must be an export name' });
    const memoryLimitMb = request.memoryLimitMb ?? config.defaultMemoryLimitMb;
    const key = { projectId: request.job.projectId, bundleId: bundle.id, memoryLimitMb };
    const entry = pools.acquire(key, versions.isCurrent(key.projectId, key.bundleId));
    try {
      const task = buildTask(request, request.entry, pathToFileURL(path.resolve(bundle.dir, bundle.main)).href, config.resultMaxChars);
      return await runOnPool(entry, task, hooks);
    } catch (err) {
      return failure(serializeError(err));
    } finally {
      await pools.release(entry);
    }
  }

  async function runOnPool(entry: PoolEntry, base: Omit<ThreadTask, 'port'>, hooks: RunHooks): Promise<RunOutcome> {
    const kill = new AbortController();
    const run = openHostRun(hooks, config.killGraceMs, () => kill.abort(new Error('grace time over')));
    try {
      const task = { ...base, port: run.workerPort };
      const result = await entry.pool.run(task, { transferList: [run.workerPort], signal: kill.signal });
      await withTimeout(run.ended, LOG_FLUSH_MS);
      return resultOutcome(result, hooks.signal);
    } catch (err) {
      return crashOutcome(err, { hooks, terminated: run.graceOver, closed, memoryLimitMb: entry.memoryLimitMb });
    } finally {
      run.close();
    }
  }

  return {
    execute,
    async retire(projectId, keepBundleId) {
      versions.retired(projectId, keepBundleId);
      await pools.retire(projectId, keepBundleId);
    },
    async close() {
      closed = true;
      await pools.destroyAll();
    },
    threadCount: () => pools.threadCount(),
  };
}

/** The task of a run, without its port: everything the worker builds the run's JobContext from. */
export function buildTask(request: RunRequest, entry: string, mainUrl: string, resultMaxChars: number): Omit<ThreadTask, 'port'> {
  return {
    runId: request.runId,
    job: { id: request.job.id, name: request.job.name, project: request.job.project },
    mainUrl,
    entry,
    params: request.params,
    config: request.config,
    scheduledAt: request.scheduledAt.getTime(),
    attempt: request.attempt,
    fencingToken: request.fencingToken,
    resultMaxChars,
  };
}

/** A run that ended after hooks.signal aborted counts as aborted, whatever the job returned on its way out. */
export function resultOutcome(result: ThreadTaskResult, signal: AbortSignal): RunOutcome {
  if (signal.aborted) {
    const error = result.ok ? { name: 'AbortError', message: `run aborted: ${reasonText(signal.reason)}` } : result.error;
    return { ok: false, error, aborted: true };
  }
  if (!result.ok) return { ok: false, error: result.error, aborted: false };
  return result.specs ? { ok: true, result: result.result, specs: result.specs } : { ok: true, result: result.result };
}

interface CrashContext {
  readonly hooks: RunHooks;
  readonly terminated: boolean;
  readonly closed: boolean;
  readonly memoryLimitMb: number;
}

/** piscina rejected: the worker died (terminated by us, out of memory, process.exit) or the pool was destroyed. */
function crashOutcome(err: unknown, ctx: CrashContext): RunOutcome {
  const error = serializeError(err);
  if (ctx.terminated) {
    return abortedOutcome(`run did not stop after abort (${reasonText(ctx.hooks.signal.reason)}); its worker was terminated`);
  }
  if (ctx.closed) return abortedOutcome('the thread executor was closed while the run was in flight');
  if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return failure({ ...error, message: `job exceeded its memory limit of ${ctx.memoryLimitMb} MB (${error.message})` }, ctx.hooks.signal.aborted);
  }
  const exit = /worker exited with code:? ?(-?\d+)/.exec(error.message);
  if (exit) return failure({ ...error, message: `job called process.exit(${exit[1]})` }, ctx.hooks.signal.aborted);
  return failure(error, ctx.hooks.signal.aborted);
}

export function failure(error: SerializedError, aborted = false): RunOutcome {
  return { ok: false, error, aborted };
}

export function abortedOutcome(message: string): RunOutcome {
  return { ok: false, error: { name: 'AbortError', message }, aborted: true };
}


export async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
