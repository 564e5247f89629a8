/**
 * A test harness for job authors: run a job in-process with a context that behaves like the host's.
 */
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import type { JobContext, JobLogger, LogLevel, PJob } from '@jobcenter/job-api';
import { createMemoryCache } from './cache.js';

/** One line a job logged. */
export interface LogLine {
  readonly level: LogLevel;
  readonly message: string;
  readonly at: Date;
}

export interface TestContextOptions<P = unknown> {
  /** The job's params; like the host, a job without params receives `null`. */
  readonly params?: P;
  /** The merged config (see `loadConfig`); `{}` when absent. */
  readonly config?: Readonly<Record<string, string>>;
  /** Backing store of `ctx.cache`; pass the same Map to several runs to keep values across them. */
  readonly cache?: Map<string, unknown>;
  /** Aborting it aborts `ctx.signal` (as a kill on the host would). */
  readonly signal?: AbortSignal;
  readonly runId?: string;
  readonly jobName?: string;
  readonly jobId?: number;
  readonly project?: string;
  readonly scheduledAt?: Date;
  readonly attempt?: number;
  readonly fencingToken?: string;
  /** Called for each log line as it is written, e.g. to print while debugging. */
  readonly onLog?: (line: LogLine) => void;
  /** Clock for cache ttl, ms since the epoch. */
  readonly now?: () => number;
}

export interface TestContext<P = unknown> {
  readonly ctx: JobContext<P>;
  /** Every line logged through `ctx.log`, in order. */
  readonly logs: LogLine[];
  /** Aborts `ctx.signal` with `reason`, as a kill, timeout or shutdown on the host would. */
  abort(reason?: unknown): void;
}

/**
 * Builds a {@link JobContext} for tests: an in-memory cache (values cloned, ttl honoured), a logger that captures
 * lines (extra args formatted like `util.format`), and a signal you can abort.
 *
 * @example
 * ```ts
 * import { createTestContext } from '@jobcenter/sdk';
 * import { hello } from '../src/index.js';
 * const { ctx, logs, abort } = createTestContext({ params: { name: 'Ada' }, config: { greeting: 'Hi' } });
 * await hello.execute(ctx);
 * console.log(logs.map((l) => l.message));
 * ```
 */
export function createTestContext<P = unknown>(opts: TestContextOptions<P> = {}): TestContext<P> {
  const logs: LogLine[] = [];
  const controller = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;
  const write = (level: LogLevel, message: string, args: unknown[]): void => {
    const line: LogLine = { level, message: format(message, ...args), at: new Date() };
    logs.push(line);
    opts.onLog?.(line);
  };
  const log: JobLogger = {
    trace: (message, ...args) => write('trace', message, args),
    debug: (message, ...args) => write('debug', message, args),
    info: (message, ...args) => write('info', message, args),
    warn: (message, ...args) => write('warn', message, args),
    error: (message, ...args) => write('error', message, args),
  };
  const ctx: JobContext<P> = Object.freeze({
    runId: opts.runId ?? randomUUID(),
    job: Object.freeze({ id: opts.jobId ?? 0, name: opts.jobName ?? 'local', project: opts.project ?? 'local' }),
    params: (opts.params === undefined ? null : opts.params) as P,
    config: Object.freeze({ ...(opts.config ?? {}) }),
    cache: createMemoryCache(opts.cache, opts.now),
    log,
    signal,
    scheduledAt: opts.scheduledAt ?? new Date(),
    attempt: opts.attempt ?? 1,
    fencingToken: opts.fencingToken ?? 'local',
  });
  return { ctx, logs, abort: (reason?: unknown) => controller.abort(reason) };
}

export interface RunLocalOptions<P = unknown> extends TestContextOptions<P> {
  /** Like the job's `timeoutMs` on the host: aborts `ctx.signal` and rejects with a {@link LocalTimeoutError}. */
  readonly timeoutMs?: number;
}

export interface LocalRunResult {
  /** What `execute` returned: a string, `null` for nothing, JSON for any other value. */
  readonly result: string | null;
  readonly logs: LogLine[];
  readonly runId: string;
}

/** The error a failed local run rejects with: the job's own error, with the run's logs and id attached. */
export type LocalRunError = Error & { logs: LogLine[]; runId: string };

/** A local run that outlived its `timeoutMs`. */
export class LocalTimeoutError extends Error {
  readonly code = 'TIMED_OUT';
  constructor(readonly timeoutMs: number) {
    super(`run timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Runs a job once, in-process, with a context like the host's (see {@link createTestContext}), and returns its
 * result and log. A job that throws makes it reject with that error, carrying `logs` and `runId`
 * ({@link LocalRunError}). With `timeoutMs`, `ctx.signal` is aborted at the deadline and the promise rejects at once
 * with a {@link LocalTimeoutError}; the job's code cannot be terminated in-process, so it should honour the signal.
 *
 * @example
 * ```ts
 * import { loadConfig, runLocal } from '@jobcenter/sdk';
 * import { hello } from '../src/index.js';
 * const cache = new Map<string, unknown>();
 * const config = await loadConfig({ dir: '.', file: 'hello.properties', profile: 'dev' });
 * const { result, logs } = await runLocal(hello, { params: { name: 'Ada' }, config, cache });
 * // result → 'Hello, Ada! (run 1)'; run again with the same cache → '(run 2)'
 * ```
 */
export async function runLocal<P = unknown>(job: PJob<P>, opts: RunLocalOptions<P> = {}): Promise<LocalRunResult> {
  if (typeof job?.execute !== 'function') throw new TypeError('runLocal expects a job: an object with an execute(ctx) method');
  const { ctx, logs, abort } = createTestContext(opts);
  const run = Promise.resolve().then(() => job.execute(ctx));
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = opts.timeoutMs === undefined ? await run : await Promise.race([run, deadline(opts.timeoutMs)]);
    return { result: toResult(value), logs, runId: ctx.runId };
  } catch (err) {
    throw withLogs(err, logs, ctx.runId);
  } finally {
    clearTimeout(timer);
  }

  function deadline(ms: number): Promise<never> {
    // The job may settle after the deadline; its late rejection must not become an unhandled one.
    run.catch(() => undefined);
    return new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new LocalTimeoutError(ms);
        abort(err);
        reject(err);
      }, ms);
    });
  }
}

function toResult(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

function withLogs(err: unknown, logs: LogLine[], runId: string): LocalRunError {
  const error = err instanceof Error ? err : new Error(String(err), { cause: err });
  if (Object.isExtensible(error)) Object.assign(error, { logs, runId });
  return error as LocalRunError;
}
