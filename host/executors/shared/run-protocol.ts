/**
 * The messages of one run between the host and the worker that runs it, as the thread and the module executors
 * share them: the run as its worker gets it (ThreadTask, ThreadRun), how it ended (ThreadTaskResult), and the
 * messages on a module run's own port (WorkerMessage, HostMessage). Both sides import this file, so a message shape
 * changes in one place only; each kind's own messages are in its protocol file (thread-protocol.ts,
 * module-protocol.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import type { JobSpec, LogLevel } from '@jobcenter/job-api';
import type { SerializedError } from '../../errors/index.js';
import type { RunUsage } from './executor.js';

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
