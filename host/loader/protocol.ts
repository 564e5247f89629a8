/**
 * Every message that crosses the thread boundary between the thread executor (host) and its pool workers.
 * Both sides import this file, so a message shape changes in one place only.
 *
 * Per run the host creates a MessageChannel and transfers one port in the task; log lines, cache requests and the
 * abort travel over that port, while the task's own result travels back through piscina.
 */
import type { MessagePort } from 'node:worker_threads';
import type { JobSpec, LogLevel } from '@jobcenter/job-api';
import type { SerializedError } from '../errors/index.js';

/** The task piscina hands to the worker: everything the JobContext needs, plus the run's port. */
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
  readonly port: MessagePort;
}

/** What the worker's handler returns: job failures are values, so piscina's rejection means "the worker died". */
export type ThreadTaskResult =
  | { readonly ok: true; readonly result: string | null; readonly specs?: readonly JobSpec[] }
  | { readonly ok: false; readonly error: SerializedError };

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
