/**
 * The `thread` executor: runs a named export of a bundle's main module in a worker thread of the project's pool
 * (one pool per project, bundle version and memory limit; see thread-pool.ts). A worker runs many runs at once and
 * everything crossing to it travels in one batch per macrotask, so a burst of runs costs a few messages, not a
 * message channel each. Kill = abort message to the job (ctx.signal); a run still going after killGraceMs is
 * stopped by terminating its worker: the runs on it that had not started go to another worker, the others that had
 * are interrupted (WORKER_RESTARTED, naming the run), and the worker is replaced.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HostConfig } from '../../config/index.js';
import { reasonText, serializeError } from '../../errors/index.js';
import type { Logger } from '../../log/logger.js';
import { abortedOutcome, failure, interruptedOutcome, type Executor, type RunHooks, type RunOutcome, type RunRequest } from '../shared/executor.js';
import type { ThreadRun } from '../shared/run-protocol.js';
import { buildTask, resultOutcome } from '../shared/worker-task.js';
import { watchAbort } from '../shared/abort-watch.js';
import { LOST_RUN_CODES } from './thread-errors.js';
import { startItem, type StartItem } from './thread-handle.js';
import type { PoolRun } from './thread-pool.js';
import { CurrentVersions } from '../shared/current-versions.js';
import { PoolRegistry } from './thread-pools.js';

/** Idle workers exit after this long; the pool starts them again on demand. */
const IDLE_TIMEOUT_MS = 30_000;
/**
 * Runs in flight on one worker; more wait in the pool's queue. A burst of 1,000 fires must fit on the workers at
 * once: with 256 per worker and 2 workers, the runs past 512 waited for earlier runs' results to come back before
 * they were even sent. Low enough that what a kill takes down with it stays bounded.
 */
const RUNS_PER_WORKER = 1024;

export interface ThreadExecutor extends Executor {
  /** Live worker threads over all pools (metrics, and tests that prove nothing leaked). */
  threadCount(): number;
}

export function createThreadExecutor(deps: { config: HostConfig; logger: Logger }): ThreadExecutor {
  const { config } = deps;
  const logger = deps.logger.child({ component: 'thread-executor' });
  const pools = new PoolRegistry({ env: config.jobEnv, maxThreads: config.threadsPerProject, runsPerWorker: RUNS_PER_WORKER, idleTimeoutMs: IDLE_TIMEOUT_MS, logger });
  const versions = new CurrentVersions((projectId, bundleId) => void pools.retire(projectId, bundleId));
  /** Per bundle id: a key made of dir and main was a new string per run. */
  const mainUrls = new Map<number, { dir: string; main: string; url: string }>();
  let closed = false;

  function mainUrlOf(bundleId: number, dir: string, main: string): string {
    const known = mainUrls.get(bundleId);
    if (known && known.dir === dir && known.main === main) return known.url;
    const url = pathToFileURL(path.resolve(dir, main)).href;
    mainUrls.set(bundleId, { dir, main, url });
    return url;
  }

  async function execute(request: RunRequest, hooks: RunHooks): Promise<RunOutcome> {
    if (closed) return abortedOutcome('the thread executor is closed');
    // Read once: hooks.signal and signal.aborted are getters with Node's checks behind them, on every run.
    const signal = hooks.signal;
    if (signal.aborted) return abortedOutcome(`run aborted before it started: ${reasonText(signal.reason)}`);
    const bundle = request.bundle;
    if (!bundle || !bundle.main) return failure({ name: 'Error', message: 'a thread job needs a bundle with a main module' });
    if (typeof request.entry !== 'string') return failure({ name: 'Error', message: 'a thread job entry must be an export name' });
    const memoryLimitMb = request.memoryLimitMb ?? config.defaultMemoryLimitMb;
    const key = { projectId: request.job.projectId, bundleId: bundle.id, memoryLimitMb };
    const mainUrl = mainUrlOf(bundle.id, bundle.dir, bundle.main);
    const entry = pools.acquire(key, mainUrl, versions.isCurrent(key.projectId, key.bundleId));
    const task = buildTask(request, request.entry, mainUrl, config);
    // From here on the watch says whether the run was aborted: it is called once, on the abort.
    let aborted = false;
    let run: PoolRun | null = null;
    let done = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const unwatch = watchAbort(signal, () => {
      aborted = true;
      if (!run || done) return;
      run.abort(reasonText(signal.reason));
      const lost = run;
      graceTimer = setTimeout(() => lost.kill(), config.killGraceMs);
    });
    try {
      const gate = hooks.gate;
      if (gate) {
        // Handed over now and started by the worker at startAt (the gate's opening is then dispatch's bookkeeping),
        // or serialised now and sent at the gate: either way only a string joins the worker's batch at the fire time.
        const startAt = gate.startAt;
        const early = startAt !== undefined && startAt > Date.now() && !aborted;
        const sent: ThreadRun = early ? { ...task, notBefore: startAt } : task;
        let made: StartItem;
        try {
          made = startItem(sent);
        } catch (err) {
          return failure({ name: 'Error', message: `the run could not be sent to its worker: ${serializeError(err).message}`, code: LOST_RUN_CODES.unsendable });
        }
        if (early) run = entry.pool.run(sent, hooks, made);
        else run = await new Promise<PoolRun | null>((resolve) => gate.onOpen(() => resolve(closed || aborted ? null : entry.pool.run(task, hooks, made))));
      } else run = entry.pool.run(task, hooks);
      if (!run) return abortedOutcome(`run aborted before it started: ${reasonText(signal.reason)}`);
      try {
        return resultOutcome(await run.result, aborted ? signal : null);
      } catch (err) {
        return lostOutcome(err, aborted ? signal : null);
      }
    } finally {
      done = true;
      clearTimeout(graceTimer);
      unwatch();
      pools.release(entry);
    }
  }

  return {
    prepares: true,
    flush: () => pools.flush(),
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

/** The pool lost the run (see thread-errors.ts): the codes that mean "aborted" become aborted outcomes. `abortedBy`: the run's signal if it aborted. */
function lostOutcome(err: unknown, abortedBy: AbortSignal | null): RunOutcome {
  const error = serializeError(err);
  // The host's stack of where it noticed is no part of the run's error.
  const shown = { name: error.name, message: error.message, ...(error.code ? { code: error.code } : {}) };
  switch (error.code) {
    case LOST_RUN_CODES.killed:
      return abortedOutcome(`run did not stop after abort (${reasonText(abortedBy?.reason)}); its worker was terminated`);
    case LOST_RUN_CODES.abortedQueued:
    case LOST_RUN_CODES.closed:
      return abortedOutcome(error.message);
    case LOST_RUN_CODES.restarted:
      return abortedBy ? failure(shown, true) : interruptedOutcome(shown);
    default:
      return failure(shown, abortedBy !== null);
  }
}
