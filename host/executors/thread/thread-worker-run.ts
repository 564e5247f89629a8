/**
 * Inside a thread pool worker: one run's channel over the worker's shared batches (no port of its own). Its
 * log items and cache requests are pushed to the worker's outbox as JSON text (thread-wire.ts), tagged with the
 * run's id (its start time travels with its result); cache replies come back by request id (unique per worker).
 */
import type { LogLevel } from '@jobcenter/job-api';
import type { CacheOp, ThreadRun, WorkerMessage } from '../shared/run-protocol.js';
import type { PoolHostItem, ThreadTarget, WireRun } from './thread-protocol.js';
import { RunLogGate } from '../shared/run-log-gate.js';
import { cacheItemJson, logItemJson } from './thread-wire.js';
import { buildContext, type RunChannel } from '../shared/worker-context.js';
import { SafeMap } from '../shared/worker-primordials.js';

/**
 * The run a start item names: its own fields with its target's (the targets the host sent this worker, by id); null
 * when the worker does not hold that target. The target's objects are shared by its runs: a run's context gives the
 * job copies of them (worker-context.ts).
 */
export function runOf(wire: WireRun, targets: { get(id: number): ThreadTarget | undefined }): ThreadRun | null {
  if (!('target' in wire)) return wire;
  const target = targets.get(wire.target);
  if (!target) return null;
  return {
    runId: wire.runId,
    job: target.job,
    mainUrl: target.mainUrl,
    entry: target.entry,
    params: wire.params,
    config: target.config,
    scheduledAt: wire.scheduledAt,
    attempt: wire.attempt,
    fencingToken: target.fencingToken,
    resultMaxChars: target.resultMaxChars,
    logMaxBytes: target.logMaxBytes,
    notBefore: wire.notBefore,
  };
}

interface Pending {
  readonly runId: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** The worker's cache requests in flight; when a run ends or the host cannot answer, its waiters are rejected. */
export class CacheRequests {
  #nextId = 1;
  readonly #pending = new SafeMap<number, Pending>();
  readonly #push: (itemJson: string) => void;

  constructor(push: (itemJson: string) => void) {
    this.#push = push;
  }

  /** Rejects at once when the request cannot be made JSON (its value): that call fails, nothing else. */
  send(runId: string, request: CacheOp): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const json = cacheItemJson(runId, id, request);
      this.#pending.set(id, { runId, resolve, reject });
      this.#push(json);
    });
  }

  answer(reply: Extract<PoolHostItem, { type: 'cache-reply' }>): void {
    const waiter = this.#pending.get(reply.id);
    if (!waiter) return;
    this.#pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.value);
    else waiter.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name, code: reply.error.code }));
  }

  rejectRun(runId: string, why: string): void {
    if (this.#pending.size === 0) return;
    this.#pending.forEach((waiter, id) => {
      if (waiter.runId !== runId) return;
      this.#pending.delete(id);
      waiter.reject(new Error(why));
    });
  }
}

export interface PooledRun {
  readonly channel: RunChannel;
  /** When the job's own code started (it travels with the result), or undefined. */
  readonly startedAt: number | undefined;
  /** The host's abort: ctx.signal aborts with the reason. */
  abort(reason: string): void;
}

export function openPooledRun(run: ThreadRun, push: (itemJson: string) => void, cache: CacheRequests): PooledRun {
  const runId = run.runId;
  let controller: AbortController | null = null;
  let abortReason: Error | null = null;
  const signal = (): AbortSignal => {
    controller ??= new AbortController();
    if (abortReason) controller.abort(abortReason);
    return controller.signal;
  };
  let closed = false;
  // The run's cap and rate limit apply here, before a line crosses (run-log-gate.ts); made on the first line.
  let gate: RunLogGate | null = null;
  // Lines after the run's end (a timer it left behind still carries its async context) belong to no run.
  const log = (level: LogLevel, message: string): void => {
    if (closed) return;
    gate ??= new RunLogGate(run.logMaxBytes, (lineLevel, line) => push(logItemJson(runId, lineLevel, line)));
    gate.log(level, message);
  };
  let startedAt: number | undefined;
  const post = (message: WorkerMessage): void => {
    if (closed) return;
    if (message.type === 'started') startedAt = message.at;
    else if (message.type === 'log') log(message.level, message.message);
    // 'end' is implicit: the run's result item is its last one. Cache requests go through `request`.
  };
  const request = (op: CacheOp): Promise<unknown> =>
    closed ? Promise.reject(new Error('the run has ended: cache is not available')) : cache.send(runId, op);
  const channel: RunChannel = {
    context: buildContext(run, signal, log, request),
    log,
    flushLog: () => gate?.flush(),
    post,
    close() {
      gate?.flush();
      closed = true;
      cache.rejectRun(runId, 'the run has ended: cache request not answered');
    },
  };
  const abort = (reason: string): void => {
    // The tail of a run that may be terminated after its grace time goes now.
    gate?.flush();
    abortReason ??= new Error(reason);
    controller?.abort(abortReason);
  };
  return {
    channel,
    abort,
    get startedAt() {
      return startedAt;
    },
  };
}
