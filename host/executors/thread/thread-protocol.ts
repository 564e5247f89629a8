/**
 * Every message that crosses the thread boundary between the thread executor (host) and its pool workers.
 * Both sides import this file, so a message shape changes in one place only.
 *
 * Thread pool workers have no port per run. Everything for a worker is collected and crosses as ONE batch per flush
 * (a macrotask) in each direction: job targets, run starts, aborts and cache replies from the host; started, log lines, cache
 * requests and results from the worker. Every item names its run. The run itself and its result are shared with
 * the module executor (../shared/run-protocol.ts).
 */
import type { LogLevel } from '@jobcenter/job-api';
import type { SerializedError } from '../../errors/index.js';
import type { CacheOp, ThreadRun, ThreadTaskResult } from '../shared/run-protocol.js';

/** workerData of a thread pool worker: the bundle main it imports at start (every run of the pool uses it). */
export interface PoolWorkerData {
  readonly mainUrl: string;
  /** The worker's vitals (vitals.ts), taken out by its bootstrap before job code loads. */
  readonly vitals?: SharedArrayBuffer;
}

/**
 * What every run of one job target shares (its job, bundle, entry, config and limits). The host sends it to a worker
 * once, as a 'target' item, and each start item names it by id: the whole run in every item was ~430 characters of
 * JSON to write, copy and parse per run, and a copy of its config object for each in the worker.
 */
export type ThreadTarget = Pick<ThreadRun, 'job' | 'mainUrl' | 'entry' | 'config' | 'fencingToken' | 'resultMaxChars' | 'logMaxBytes'>;

/** A start item's run: its own fields and the id of its target, or (a config that is not an object) the whole run. */
export type WireRun = ThreadRun | (Pick<ThreadRun, 'runId' | 'params' | 'scheduledAt' | 'attempt' | 'notBefore'> & { readonly target: number });

/** One item of a host → pool worker batch. */
export type PoolHostItem =
  /** `slot` and `seq`: the run's claim in the worker's vitals (vitals.ts); the worker starts it only if it wins it. */
  | { readonly type: 'start'; readonly slot: number; readonly seq: number; readonly run: WireRun }
  /** A target the start items after it name (ids are the host's, the same on every worker). */
  | { readonly type: 'target'; readonly id: number; readonly target: ThreadTarget }
  /** The worker drops every target it holds (the host sends them again as runs need them). */
  | { readonly type: 'forget' }
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
