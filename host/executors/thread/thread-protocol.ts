/**
 * Every message that crosses the thread boundary between the thread executor (host) and its pool workers.
 * Both sides import this file, so a message shape changes in one place only.
 *
 * Thread pool workers (thread executor): no port per run. Everything for a worker is collected and crosses as ONE
 * batch per flush (a macrotask) in each direction: run starts, aborts and cache replies from the host; started, log
 * lines, cache requests and results from the worker. Every item names its run.
 *
 * Module context workers (module executor) still get a ThreadTask with its own MessagePort per run: WorkerMessage
 * and HostMessage below travel over that port.
 */
import type { MessagePort } from 'node:worker_threads';
import type { JobSpec, LogLevel } from '@jobcenter/job-api';
import type { SerializedError } from '../../errors/index.js';
import type { RunUsage } from '../shared/executor.js';

/** A module run: everything the JobContext needs, plus the run's port. */
export interface ThreadTask {
  readonly runId: string;
  readonly job: { readonly id: number; readonly name: string; readonly project: string };
  /** file: URL of the bundle's main module; the worker imports it once. */
  readonly mainUrl: string;
  /** Named export to run (an object with execute, or a class whose prototype has execute). */
  readonly entry: string;
  readonly params: unknown;
  readonly config: Readonly<Record<string, string>>;
  /** Epoch ms (a Date would survive cloning too; a number keeps the shape obvious). */
  readonly scheduledAt: number;
  readonly attempt: number;
  readonly fencingToken: string;
  readonly resultMaxChars: number;
  /** The host's cap on a run's log (runLogMaxBytes): the worker applies it before lines cross (run-log-gate.ts). */
  readonly logMaxBytes: number;
  readonly port: MessagePort;
}

/**
 * One run as a thread pool worker gets it: a ThreadTask without a port (its messages travel in batches).
 * `notBefore` (epoch ms): a run handed over ahead of its fire time; the worker holds it and starts it then, on its own
 * timer, so a burst's first lines do not wait for the host's event loop at the fire time. An abort before that
 * drops it unstarted.
 */
export type ThreadRun = Omit<ThreadTask, 'port'> & { readonly notBefore?: number };

/** workerData of a thread pool worker: the bundle main it imports at start (every run of the pool uses it). */
export interface PoolWorkerData {
  readonly mainUrl: string;
  /** The worker's vitals (vitals.ts), taken out by its bootstrap before job code loads. */
  readonly vitals?: SharedArrayBuffer;
}

/**
 * How a run ended inside its worker: job failures are values, so a lost result means "the worker died". The worker
 * adds what the run used (worker-usage.ts) before the result leaves it.
 */
export type ThreadTaskResult = (
  | { readonly ok: true; readonly result: string | null; readonly specs?: readonly JobSpec[] }
  | { readonly ok: false; readonly error: SerializedError }
) &
  RunUsage;

export type CacheOp =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'set'; readonly key: string; readonly value: unknown; readonly ttlMs?: number }
  | { readonly op: 'delete'; readonly key: string };

/** Worker → host, on the run's port. */
export type WorkerMessage =
  | { readonly type: 'started'; readonly at: number }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string; readonly time: number }
  | { readonly type: 'cache'; readonly id: number; readonly request: CacheOp }
  /** Last message of a run: everything posted before it has been delivered when the host sees it. */
  | { readonly type: 'end' };

/** Host → worker, on the run's port. */
export type HostMessage =
  | { readonly type: 'abort'; readonly reason: string }
  | { readonly type: 'cache-reply'; readonly id: number; readonly ok: true; readonly value?: unknown }
  | { readonly type: 'cache-reply'; readonly id: number; readonly ok: false; readonly error: SerializedError };

/** One item of a host → pool worker batch. */
export type PoolHostItem =
  /** `slot` and `seq`: the run's claim in the worker's vitals (vitals.ts); the worker starts it only if it wins it. */
  | { readonly type: 'start'; readonly slot: number; readonly seq: number; readonly run: ThreadRun }
  | { readonly type: 'abort'; readonly runId: string; readonly reason: string }
  /** The answer to the worker's cache request `id` (ids are unique per worker). */
  | { readonly type: 'cache-reply'; readonly id: number; readonly ok: true; readonly value?: unknown }
  | { readonly type: 'cache-reply'; readonly id: number; readonly ok: false; readonly error: SerializedError };

/** One item of a pool worker → host batch. Items of a run keep their order; 'result' is its last one. */
export type PoolWorkerItem =
  | { readonly type: 'log'; readonly runId: string; readonly level: LogLevel; readonly message: string }
  | { readonly type: 'cache'; readonly runId: string; readonly id: number; readonly request: CacheOp }
  /** `startedAt`: when the job's own code started (absent when it never did); one item per run, not two. */
  | { readonly type: 'result'; readonly runId: string; readonly result: ThreadTaskResult; readonly startedAt?: number };

/**
 * Host → pool worker, on the worker's own port: the items as ONE JSON text. Everything in them is JSON already
 * (params, config and cache values come from the database or a JSON request), and one string crosses a thread far
 * cheaper than the structured clone of a thousand small objects (that clone was a third of a burst's cost).
 */
export type PoolHostMessage = { readonly type: 'batch'; readonly json: string };

/** Pool worker → host, on the worker's own port. */
export type PoolWorkerMessage =
  /** The worker has imported the bundle's main (or failed to: its runs will say why) and takes runs. */
  | { readonly type: 'ready' }
  /** The items as one JSON text, as PoolHostMessage. */
  | { readonly type: 'batch'; readonly json: string };
