/**
 * The `module` executor: runs a bean of a bundle's module context (spring-boot-like). Each (project, bundle
 * version, job profile) gets ONE worker that builds every bean once and serves every run of that version and
 * profile concurrently, so beans are singletons shared by those runs; the profile is part of the key because the
 * module's config (application-<profile>.properties) is per context, as `jobcenter-sdk run --profile` builds it. Runs use the thread executor's per-run channel (logs, console, cache, abort).
 * Kill = abort message to the run (ctx.signal); a run still going after killGraceMs can only be stopped by
 * terminating its context's worker: the runs on it that had not started run on a fresh context, the others that had
 * are interrupted (MODULE_RESTARTED, naming the run). A blocked context gets no new runs (module-registry.ts), and
 * the context that takes them adopts a worker started ahead of need (module-spares.ts).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HostConfig } from '../../config/index.js';
import { reasonText, serializeError } from '../../errors/index.js';
import type { Logger } from '../../log/logger.js';
import { abortedOutcome, failure, interruptedOutcome, type Executor, type RunHooks, type RunOutcome, type RunRequest } from '../shared/executor.js';
import type { ThreadTask } from '../shared/run-protocol.js';
import { ContextRegistry, type ContextEntry } from './module-registry.js';
import type { SpareStats } from './module-spares.js';
import { CurrentVersions } from '../shared/current-versions.js';
import { MODULE_LOST_CODES, type ModuleThread } from './module-thread.js';
import { openHostRun } from '../shared/run-port.js';
import { buildTask, resultOutcome } from '../shared/worker-task.js';
import { watchAbort } from '../shared/abort-watch.js';
import { MAX_MOVES } from '../shared/vitals.js';

/** How long a finished run's last log lines may take (they travel on another port than the result). */
const LOG_FLUSH_MS = 1_000;
/** How long a drained, retired context's onStop and disposers may take before its worker is terminated. */
const RETIRE_STOP_GRACE_MS = 5_000;

export interface ModuleExecutor extends Executor {
  /** Live module context workers (metrics, and tests that prove nothing leaked). */
  threadCount(): number;
  /** Spare workers started ahead of need and how many were adopted (module-spares.ts); not in threadCount. */
  spares(): SpareStats;
}

export function createModuleExecutor(deps: { config: HostConfig; logger: Logger }): ModuleExecutor {
  const { config } = deps;
  const contexts = new ContextRegistry({
    env: config.jobEnv,
    bootTimeoutMs: config.introspectTimeoutMs,
    stopGraceMs: RETIRE_STOP_GRACE_MS,
    logger: deps.logger.child({ component: 'module-executor' }),
  });
  const versions = new CurrentVersions((projectId, bundleId) => void contexts.retire(projectId, bundleId));
  let closed = false;

  async function execute(request: RunRequest, hooks: RunHooks): Promise<RunOutcome> {
    if (closed) return abortedOutcome('the module executor is closed');
    if (hooks.signal.aborted) return abortedOutcome(`run aborted before it started: ${reasonText(hooks.signal.reason)}`);
    const bundle = request.bundle;
    if (!bundle || !bundle.main) return failure({ name: 'Error', message: 'a module job needs a bundle with a main module' });
    if (typeof request.entry !== 'string') return failure({ name: 'Error', message: 'a module job entry must be a bean name' });
    const profile = request.profile ?? null;
    const key = { projectId: request.job.projectId, bundleId: bundle.id, profile, memoryLimitMb: request.memoryLimitMb ?? config.defaultMemoryLimitMb };
    const mainUrl = pathToFileURL(path.resolve(bundle.dir, bundle.main)).href;
    const boot = { data: { mainUrl, bundleDir: bundle.dir, profile } };
    const current = versions.isCurrent(key.projectId, key.bundleId);
    const task = buildTask(request, request.entry, mainUrl, config);
    // A run handed back unstarted (its context was blocked, or ended because of another run) goes to another context.
    for (let moves = 0; ; moves++) {
      const entry = contexts.acquire(key, boot, current);
      try {
        if (!(await readyUnlessAborted(entry.thread, hooks.signal))) {
          return abortedOutcome(`run aborted while its module context was starting: ${reasonText(hooks.signal.reason)}`);
        }
        return await runOnContext(entry, task, hooks);
      } catch (err) {
        if (isNotStarted(err) && moves < MAX_MOVES && !closed && !hooks.signal.aborted) continue;
        return failure(serializeError(err), hooks.signal.aborted);
      } finally {
        contexts.release(entry);
      }
    }
  }

  async function runOnContext(entry: ContextEntry, task: Omit<ThreadTask, 'port'>, hooks: RunHooks): Promise<RunOutcome> {
    const run = openHostRun(hooks, config.killGraceMs, () => {
      const reason = new Error(`module context restarted because run ${task.runId} had to be killed`);
      void entry.thread.terminate(Object.assign(reason, { code: MODULE_LOST_CODES.restarted, deed: 'did not stop after its abort (a timeout or a kill)' }), task.runId);
    });
    try {
      const result = await entry.thread.run({ ...task, port: run.workerPort });
      await withTimeout(run.ended, LOG_FLUSH_MS);
      return resultOutcome(result, hooks.signal.aborted ? hooks.signal : null);
    } catch (err) {
      if (run.graceOver) {
        return abortedOutcome(`run did not stop after abort (${reasonText(hooks.signal.reason)}); its module context was terminated and restarts for the next run`);
      }
      if (closed) return abortedOutcome('the module executor was closed while the run was in flight');
      if (isNotStarted(err)) throw err;
      const error = serializeError(err);
      const shown = { name: error.name, message: error.message, ...(error.code ? { code: error.code } : {}) };
      if (error.code === MODULE_LOST_CODES.restarted && !hooks.signal.aborted) return interruptedOutcome(shown);
      return failure(shown, hooks.signal.aborted);
    } finally {
      run.close();
    }
  }

  return {
    execute,
    async retire(projectId, keepBundleId) {
      versions.retired(projectId, keepBundleId);
      await contexts.retire(projectId, keepBundleId);
    },
    async close() {
      closed = true;
      await contexts.stopAll(Math.min(config.killGraceMs, config.shutdownGraceMs));
    },
    threadCount: () => contexts.threadCount(),
    spares: () => contexts.spares(),
  };
}

/** True once the context is ready; false when the run was aborted first. Rejects when the context fails to boot. */
async function readyUnlessAborted(thread: ModuleThread, signal: AbortSignal): Promise<boolean> {
  let unwatch = (): void => {};
  const aborted = new Promise<boolean>((resolve) => {
    unwatch = watchAbort(signal, () => resolve(false));
  });
  try {
    return await Promise.race([thread.ready.then(() => true), aborted]);
  } finally {
    unwatch();
  }
}

function isNotStarted(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === MODULE_LOST_CODES.notStarted;
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
