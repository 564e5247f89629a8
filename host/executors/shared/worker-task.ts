/**
 * A run as the thread and the module executors hand it to their workers, and its worker's result as an outcome.
 */
import { reasonText } from '../../errors/index.js';
import type { HostConfig } from '../../config/index.js';
import type { RunOutcome, RunRequest } from './executor.js';
import type { ThreadRun, ThreadTaskResult } from './run-protocol.js';

/** The run as its worker gets it: everything the worker builds the run's JobContext from. */
export function buildTask(request: RunRequest, entry: string, mainUrl: string, limits: Pick<HostConfig, 'resultMaxChars' | 'runLogMaxBytes'>): ThreadRun {
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
    resultMaxChars: limits.resultMaxChars,
    logMaxBytes: limits.runLogMaxBytes,
  };
}

/**
 * A run that ended after hooks.signal aborted counts as aborted, whatever the job returned on its way out. What the
 * run used (measured in its worker) goes with the outcome either way. `abortedBy`: the run's signal if it aborted,
 * else null (an executor knows it from its watch, abort-watch.ts, without reading the signal's getters again).
 */
export function resultOutcome(result: ThreadTaskResult, abortedBy: AbortSignal | null): RunOutcome {
  const { cpuMs, peakMemoryMb } = result;
  if (abortedBy) {
    const error = result.ok ? { name: 'AbortError', message: `run aborted: ${reasonText(abortedBy.reason)}` } : result.error;
    return { ok: false, error, aborted: true, cpuMs, peakMemoryMb };
  }
  if (!result.ok) return { ok: false, error: result.error, aborted: false, cpuMs, peakMemoryMb };
  return result.specs ? { ok: true, result: result.result, specs: result.specs, cpuMs, peakMemoryMb } : { ok: true, result: result.result, cpuMs, peakMemoryMb };
}
