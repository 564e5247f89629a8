/**
 * Everything that crosses the boundary between the isolate executor (host) and the code it runs inside an
 * isolated-vm context. Values are copied (structured clone) both ways; only these shapes cross.
 *
 * Host → isolate: the RunData of one run (copied in as an argument of the entry call), timer fires and the abort
 * (through References to functions of the prelude). Isolate → host: log lines and timer requests (sync Callbacks),
 * cache and fetch requests (async References), and the RunReply of the entry call.
 */
import type { JobSpec, LogLevel } from '@jobcenter/job-api';
import type ivm from 'isolated-vm';
import type { SerializedError } from '../../errors/index.js';

/** What the prelude turns into the JobContext. */
export interface RunData {
  readonly runId: string;
  readonly job: { readonly id: number; readonly name: string; readonly project: string };
  readonly params: unknown;
  readonly config: Readonly<Record<string, string>>;
  /** Epoch ms. */
  readonly scheduledAt: number;
  readonly attempt: number;
  readonly fencingToken: string;
}

/** What the entry call resolves with; job failures are values, so a rejection means the isolate itself failed. */
export type RunReply =
  | { readonly ok: true; readonly result: string | null; readonly specs?: JobSpec[] }
  | { readonly ok: false; readonly error: SerializedError };

/** Sync Callback: one line of the run's log, already formatted inside the isolate. */
export type LogBridge = (level: LogLevel, message: string) => void;

/** Sync Callback: arm (`set`, with a delay and whether it repeats) or disarm (`clear`) a host timer by id. */
export type TimerBridge = (op: 'set' | 'clear', id: number, delayMs?: number, repeat?: boolean) => void;

/** Async Reference: the job's cache. */
export type CacheBridge = (op: 'get' | 'set' | 'delete', key: string, value?: unknown, ttlMs?: number) => Promise<unknown>;

export interface FetchInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface FetchReply {
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly redirected: boolean;
  readonly headers: Array<[string, string]>;
  readonly body: string;
}

/** Async Reference: a fetch the host performs (installed only with a fetch grant). */
export type FetchBridge = (url: string, init?: FetchInit) => Promise<FetchReply>;

/** Functions of the prelude the host calls later, handed over once per run through the register bridge. */
export interface PreludeHandles {
  /** Builds the JobContext from the run's data and runs the named export: `(entry, data) => Promise<RunReply>`. */
  readonly run: ivm.Reference<(entry: string, data: RunData) => Promise<RunReply>>;
  /** Fires the timer with this id. */
  readonly fire: ivm.Reference<(id: number) => void>;
  /** Aborts ctx.signal with this reason. */
  readonly abort: ivm.Reference<(reason: string) => void>;
}
