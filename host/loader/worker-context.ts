/**
 * Inside a worker (a thread pool worker or a module context's worker): the JobContext of one run and running a job
 * or resolver over it. A module run's channel is its own MessagePort (openRunChannel); a pool worker's runs share
 * the worker's batches (thread-worker-run.ts). Both run many runs at once and tell the current one through
 * AsyncLocalStorage (see routeConsole).
 */
import { format } from 'node:util';
import type { JobCache, JobContext, JobLogger, JobSpec, LogLevel } from '@jobcenter/job-api';
import { serializeError } from '../errors/index.js';
import type { CacheOp, HostMessage, ThreadRun, ThreadTask, ThreadTaskResult, WorkerMessage } from './protocol.js';
import { endRunLeftovers } from './run-leftovers.js';
import { now, postOn, SafeMap, sliceText, stringify } from './worker-primordials.js';

/** A job (execute) or a resolver (resolve: returns the sub-jobs it wants). */
export type Runnable = { execute(ctx: JobContext): unknown } | { resolve(ctx: JobContext): unknown };

export interface RunChannel {
  readonly context: JobContext;
  log(level: LogLevel, message: string): void;
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
  const log = (level: LogLevel, message: string): void => post({ type: 'log', level, message, time: now() });

  const context = buildContext(task, abort.signal, log, request);
  return {
    context,
    log,
    post,
    close() {
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
  return key;
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
    return { ok: false, error: serializeError(err) };
  } finally {
    endRunLeftovers(channel);
    channel.post({ type: 'end' });
    channel.close();
  }
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

function toResult(value: unknown, maxChars: number): string | null {
  if (value === undefined || value === null) return null;
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = stringify(value);
    } catch (err) {
      throw new Error(`the job's result could not be turned into JSON: ${serializeError(err).message}`);
    }
  }
  if (text === undefined) return null;
  return text.length > maxChars ? sliceText(text, 0, maxChars) : text;
}
