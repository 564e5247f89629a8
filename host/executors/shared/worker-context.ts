/**
 * Inside a worker (a thread pool worker or a module context's worker): the JobContext of one run and running a job
 * or resolver over it. A module run's channel is its own MessagePort (openRunChannel); a pool worker's runs share
 * the worker's batches (thread-worker-run.ts). Both run many runs at once and tell the current one through
 * AsyncLocalStorage (see routeConsole).
 */
import { format } from 'node:util';
import type { JobCache, JobContext, JobLogger, JobSpec, LogLevel } from '@jobcenter/job-api';
import { serializeError, type SerializedError } from '../../errors/index.js';
import type { CacheOp, HostMessage, ThreadRun, ThreadTask, ThreadTaskResult, WorkerMessage } from './run-protocol.js';
import { RunLogGate } from './run-log-gate.js';
import { endRunLeftovers } from './run-leftovers.js';
import { boundedJson, CACHE_KEY_MAX_CHARS, clipText, ERROR_TEXT_MAX_CHARS, CACHE_VALUE_MAX_CHARS, cacheKeyTooLarge, cacheValueTooLarge, count, RESULT_MAX_CHARS, SLICE_MAX_CHARS, TOO_LARGE_CODES, TooLargeError } from './wire-limits.js';
import { now, postOn, SafeMap, setImmediateSafe, sliceText } from './worker-primordials.js';

/** A job (execute) or a resolver (resolve: returns the sub-jobs it wants). */
export type Runnable = { execute(ctx: JobContext): unknown } | { resolve(ctx: JobContext): unknown };

export interface RunChannel {
  readonly context: JobContext;
  log(level: LogLevel, message: string): void;
  /** Sends the log lines the gate still holds, after its marker of what was dropped (the run is ending). */
  flushLog(): void;
  post(message: WorkerMessage): void;
  /** Rejects pending cache requests, detaches listeners and closes the port. */
  close(): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export function openRunChannel(task: ThreadTask): RunChannel {
  const port = task.port;
  const abort = new AbortController();
  const pending = new SafeMap<number, Pending>();
  let nextId = 1;
  let closed = false;

  const post = (message: WorkerMessage): void => {
    if (!closed) postOn(port, message);
  };
  const rejectAll = (why: string): void => {
    pending.forEach((p) => p.reject(new Error(why)));
    pending.clear();
  };
  port.on('message', (message: HostMessage) => {
    if (message.type === 'abort') {
      // The tail of a run that may be terminated after its grace time goes now.
      gate?.flush();
      abort.abort(new Error(message.reason));
      return;
    }
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(Object.assign(new Error(message.error.message), { name: message.error.name, code: message.error.code }));
  });
  // The host closes its side when the run is over (or gone): nobody will answer pending requests any more.
  port.on('close', () => {
    closed = true;
    rejectAll('the run has ended: cache request not answered');
  });

  const request = (op: CacheOp): Promise<unknown> => {
    if (closed) return Promise.reject(new Error('the run has ended: cache is not available'));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      post({ type: 'cache', id, request: op });
    });
  };
  // The run's cap and rate limit apply here, before a line crosses (run-log-gate.ts).
  let gate: RunLogGate | null = null;
  const log = (level: LogLevel, message: string): void => {
    gate ??= new RunLogGate(task.logMaxBytes, (lineLevel, line) => post({ type: 'log', level: lineLevel, message: line, time: now() }));
    gate.log(level, message);
  };

  const context = buildContext(task, abort.signal, log, request);
  return {
    context,
    log,
    flushLog: () => gate?.flush(),
    post,
    close() {
      gate?.flush();
      rejectAll('the run has ended: cache request not answered');
      closed = true;
      port.removeAllListeners('message');
      port.close();
    },
  };
}

/**
 * The run's frozen JobContext; log and request say where its lines and cache requests go. `signal` may be a
 * function: ctx.signal is then made on first use (most runs never look at it, and an AbortController is not free).
 */
export function buildContext(
  task: ThreadRun,
  signal: AbortSignal | (() => AbortSignal),
  log: (level: LogLevel, message: string) => void,
  request: (op: CacheOp) => Promise<unknown>,
): JobContext {
  return Object.freeze(new RunContext(task, typeof signal === 'function' ? signal : () => signal, log, request));
}

/**
 * A class rather than an object literal of closures: a burst of 1,000 runs builds 1,000 contexts on the path to
 * each job's first line, and most jobs never touch ctx.log, ctx.cache, ctx.job or ctx.config, so those are made
 * (frozen, once) on first use. Every member reads like a plain property of a frozen object.
 */
class RunContext implements JobContext {
  readonly runId: string;
  readonly params: unknown;
  readonly scheduledAt: Date;
  readonly attempt: number;
  readonly fencingToken: string;
  readonly #task: ThreadRun;
  readonly #signal: () => AbortSignal;
  readonly #log: (level: LogLevel, message: string) => void;
  readonly #request: (op: CacheOp) => Promise<unknown>;
  #job: JobContext['job'] | undefined;
  #config: JobContext['config'] | undefined;
  #logger: JobLogger | undefined;
  #cache: JobCache | undefined;

  constructor(task: ThreadRun, signal: () => AbortSignal, log: (level: LogLevel, message: string) => void, request: (op: CacheOp) => Promise<unknown>) {
    this.runId = task.runId;
    this.params = task.params;
    this.scheduledAt = new Date(task.scheduledAt);
    this.attempt = task.attempt;
    this.fencingToken = task.fencingToken;
    this.#task = task;
    this.#signal = signal;
    this.#log = log;
    this.#request = request;
  }

  get job(): JobContext['job'] {
    return (this.#job ??= Object.freeze({ ...this.#task.job }));
  }

  get config(): JobContext['config'] {
    return (this.#config ??= Object.freeze({ ...this.#task.config }));
  }

  get signal(): AbortSignal {
    return this.#signal();
  }

  get log(): JobLogger {
    if (!this.#logger) {
      const log = this.#log;
      const line = (level: LogLevel) => (message: string, ...args: unknown[]) => log(level, format(message, ...args));
      this.#logger = Object.freeze({ trace: line('trace'), debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') });
    }
    return this.#logger;
  }

  get cache(): JobCache {
    if (!this.#cache) {
      const request = this.#request;
      this.#cache = Object.freeze({
        get: async <T>(key: string) => request({ op: 'get', key: cacheKey(key) }) as Promise<T | undefined>,
        set: async (key: string, value: unknown, opts?: { ttlMs?: number }) => {
          checkCacheValue(value);
          // Values cross to the host as JSON, which would silently drop a function: refuse what cannot be cloned.
          structuredClone(value);
          await request({ op: 'set', key: cacheKey(key), value, ...cacheTtl(opts) });
        },
        delete: async (key: string) => {
          await request({ op: 'delete', key: cacheKey(key) });
        },
      });
    }
    return this.#cache;
  }
}

/** The host refuses a request whose key is not text (wire-read.ts): a wrong key fails the call, not the run. */
function cacheKey(key: unknown): string {
  if (typeof key !== 'string') throw new TypeError(`a cache key must be a string, got ${typeof key}`);
  if (key.length > CACHE_KEY_MAX_CHARS) {
    throw cacheKeyTooLarge(key.length);
  }
  return key;
}

/**
 * A value over CACHE_VALUE_MAX_CHARS of JSON is refused here, in the job's call, before anything is copied or sent
 * (the pool's channel measures it again as it writes it: thread-wire.ts).
 */
export function checkCacheValue(value: unknown): void {
  const measured = boundedJson(value, CACHE_VALUE_MAX_CHARS);
  if ('tooLarge' in measured) throw cacheValueTooLarge(measured.tooLarge);
}

/** As cacheKey, for a ttlMs that is not a number. */
function cacheTtl(opts: { ttlMs?: unknown } | undefined): { ttlMs?: number } {
  const ttlMs = opts?.ttlMs;
  if (ttlMs === undefined) return {};
  if (typeof ttlMs !== 'number') throw new TypeError(`a cache ttlMs must be a number of milliseconds, got ${typeof ttlMs}`);
  if (!Number.isFinite(ttlMs)) throw new TypeError(`a cache ttlMs must be a finite number of milliseconds, got ${ttlMs}`);
  return { ttlMs };
}

type ConsoleMethod = 'log' | 'info' | 'warn' | 'error' | 'debug' | 'trace';
const CONSOLE_LEVELS: ReadonlyArray<[ConsoleMethod, LogLevel]> = [
  ['log', 'info'],
  ['info', 'info'],
  ['warn', 'warn'],
  ['error', 'error'],
  ['debug', 'debug'],
  ['trace', 'trace'],
];

/**
 * Inside a worker thread (its own root, so the one place a worker touches `process` events): a promise a job
 * forgot must not take the worker, and every run on it, down. Its line goes to the log that `current` names.
 */
export function catchStrayRejections(current: () => Pick<RunChannel, 'log'> | null): void {
  process.on('unhandledRejection', (reason) => {
    const error = serializeError(reason);
    current()?.log('error', `unhandled promise rejection: ${error.stack ?? error.message}`);
  });
}

/**
 * Replaces the worker's console so a job's console output lands in the log of the run that is executing.
 * Output while no run is current (a timer a finished job left behind) is dropped: it belongs to no run.
 */
export function routeConsole(current: () => Pick<RunChannel, 'log'> | null): void {
  for (const [method, level] of CONSOLE_LEVELS) {
    // eslint-disable-next-line no-console -- replacing the worker's console is the point: job output → run log
    console[method] = (...args: unknown[]) => {
      current()?.log(level, format(...args));
    };
  }
  routeStdio(process.stdout, 'info', current);
  routeStdio(process.stderr, 'error', current);
}

const decodeUtf8 = TextDecoder.prototype.decode;
const utf8 = new TextDecoder();

/**
 * process.stdout / process.stderr writes go to the current run's log, under its cap and rate (a worker's own stdio
 * would reach the host's stdout uncapped). Each write is a line; a trailing newline is dropped.
 */
function routeStdio(stream: NodeJS.WriteStream, level: LogLevel, current: () => Pick<RunChannel, 'log'> | null): void {
  stream.write = ((chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    current()?.log(level, stdioText(chunk));
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') setImmediateSafe(() => (done as (err?: Error | null) => void)(null));
    return true;
  }) as NodeJS.WriteStream['write'];
}

function stdioText(chunk: unknown): string {
  let text: string;
  if (typeof chunk === 'string') text = chunk;
  else if (chunk instanceof Uint8Array) {
    if (chunk.byteLength > SLICE_MAX_CHARS) return `[a write of ${count(chunk.byteLength)} bytes was not kept: over the limit of ${count(SLICE_MAX_CHARS)}]`;
    text = Reflect.apply(decodeUtf8, utf8, [chunk]) as string;
  } else return String(chunk);
  const length = text.length;
  return length > 0 && length <= SLICE_MAX_CHARS && sliceText(text, length - 1, length) === '\n' ? sliceText(text, 0, length - 1) : text;
}

/** An object whose execute or resolve is a function; null for anything else. */
export function asRunnable(value: unknown): Runnable | null {
  if (value === null || typeof value !== 'object') return null;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.resolve === 'function' || typeof candidate.execute === 'function' ? (value as Runnable) : null;
}

/**
 * Runs one task over its channel: loads the job, reports 'started', calls resolve or execute, and always ends with
 * the 'end' message and a closed channel. Job failures are values; nothing here rejects unless job code broke the
 * worker's globals on the way (the caller reports that as the run's error). A result that is not a string is
 * the JSON of the job's value by the original JSON.stringify: a toJSON the job defines counts (it is the job's own
 * say on its value, as Date's is), a JSON.stringify it replaced does not.
 */
export async function runJob(task: ThreadRun, channel: RunChannel, load: () => Runnable | Promise<Runnable>): Promise<ThreadTaskResult> {
  try {
    const loaded = load();
    const job = loaded instanceof Promise ? await loaded : loaded;
    channel.post({ type: 'started', at: now() });
    if ('resolve' in job) {
      const specs = checkSpecs(await job.resolve(channel.context));
      return { ok: true, result: null, specs };
    }
    const value = await job.execute(channel.context);
    return { ok: true, result: toResult(value, task.resultMaxChars) };
  } catch (err) {
    return { ok: false, error: jobError(err) };
  } finally {
    endRunLeftovers(channel);
    // The log's tail and its drop marker go before 'end': the host stops reading the run's port there.
    channel.flushLog();
    channel.post({ type: 'end' });
    channel.close();
  }
}

/**
 * The job's error as it crosses. An error whose message is too long to cut (wire-limits.ts) is not read further:
 * formatting its stack would copy that message whole in the worker.
 */
function jobError(err: unknown): SerializedError {
  let message: unknown;
  try {
    message = err instanceof Error ? err.message : undefined;
  } catch {
    message = undefined;
  }
  if (typeof message === 'string' && message.length > SLICE_MAX_CHARS) return { name: 'Error', message: clipText(message, ERROR_TEXT_MAX_CHARS) };
  return serializeError(err);
}

/** A resolver must return an array of plain, cloneable specs; the host validates each one when it reconciles. */
function checkSpecs(value: unknown): JobSpec[] {
  if (!Array.isArray(value)) {
    throw Object.assign(new Error(`a resolver must return an array of job specs, got ${value === null ? 'null' : typeof value}`), {
      code: 'BAD_RESOLVER_OUTPUT',
    });
  }
  return structuredClone(value) as JobSpec[];
}

/**
 * The run's result: the job's string, or its value's JSON, cut to maxChars. A string too long to be cut safely in
 * the worker, or a value whose JSON passes SLICE_MAX_CHARS, fails the run instead (wire-limits.ts says why).
 */
function toResult(value: unknown, maxChars: number): string | null {
  if (value === undefined || value === null) return null;
  const keep = maxChars < RESULT_MAX_CHARS ? maxChars : RESULT_MAX_CHARS;
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else {
    let measured: ReturnType<typeof boundedJson>;
    try {
      measured = boundedJson(value, SLICE_MAX_CHARS);
    } catch (err) {
      throw new Error(`the job's result could not be turned into JSON: ${serializeError(err).message}`);
    }
    if ('tooLarge' in measured) throw resultTooLarge(`its JSON takes ${count(measured.tooLarge)} characters or more`, keep);
    text = measured.json;
  }
  if (text === undefined) return null;
  if (text.length > SLICE_MAX_CHARS) throw resultTooLarge(`it has ${count(text.length)} characters`, keep);
  return text.length > keep ? sliceText(text, 0, keep) : text;
}

function resultTooLarge(size: string, keep: number): TooLargeError {
  return new TooLargeError(
    TOO_LARGE_CODES.result,
    `the job's result is too large: ${size}; a result is cut to its first ${count(keep)} characters, but one over ${count(SLICE_MAX_CHARS)} characters is refused`,
  );
}
