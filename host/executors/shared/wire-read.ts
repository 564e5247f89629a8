/**
 * Reading, on the host, what a worker or an isolate says about its runs. Job code shares the worker's realm: it can
 * change the globals the worker's own code uses and post on the worker's port itself. So every message and item is
 * checked against its shape in its protocol file (run-protocol.ts, and each kind's own) before anything acts on it,
 * and nothing here throws. Each reader returns what it read, or the reason it could not read it (a string). The
 * readers of a kind's own messages (thread-read.ts, module-read.ts) are built from the checks exported here.
 *
 * The values are the host's own by now (a structured clone, or JSON.parse of the text that crossed), so reading
 * their fields runs no job code.
 */
import type { LogLevel } from '@jobcenter/job-api';
import type { SerializedError } from '../../errors/index.js';
import type { CacheOp, ThreadTaskResult, WorkerMessage } from './run-protocol.js';
import { boundError, clipText, count, LOG_LINE_MAX_CHARS, RESULT_MAX_CHARS, TOO_LARGE_CODES } from './wire-limits.js';

/** Codes of the errors of runs lost to what could not be read. */
export const UNREADABLE_CODES = {
  /** An item of this run could not be read: the run failed (the rest of its worker is fine). */
  run: 'RUN_OUTCOME_UNREADABLE',
  /** A message that names no run could not be read: it may have held any run's result, so the worker was ended. */
  worker: 'WORKER_MESSAGE_UNREADABLE',
} as const;

/** The error a run ends with when an item of it could not be read (`code`: a more precise one, as RESULT_TOO_LARGE). */
export function unreadableRunError(why: string, code: string = UNREADABLE_CODES.run): SerializedError {
  return { name: 'Error', message: `the run's outcome could not be read: ${why}`, code };
}

/** An item or message that cannot be read; `runId` names its run when that much could be read. */
export interface Unreadable {
  readonly type: 'unreadable';
  readonly runId: string | null;
  readonly why: string;
  /** Set when the reason has a code of its own (an item over its size limit: wire-limits.ts). */
  readonly code?: string;
}

/** What a reader found wrong: the reason, and a code when it has one of its own. */
type Problem = string | { readonly why: string; readonly code: string };

type Fields = Readonly<Record<string, unknown>>;

export const LEVELS: ReadonlySet<unknown> = new Set<LogLevel>(['trace', 'debug', 'info', 'warn', 'error']);
const CACHE_OPS: ReadonlySet<unknown> = new Set<CacheOp['op']>(['get', 'set', 'delete']);

export function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value whose shape was checked field by field. */
export function checked<T>(value: Fields): T {
  return value as unknown as T;
}

export function isOptional(value: unknown, type: 'string' | 'number'): boolean {
  return value === undefined || (type === 'string' ? typeof value === 'string' : Number.isFinite(value));
}

/** The error of a failed run (or of a module that failed to boot), its texts cut to ERROR_TEXT_MAX_CHARS. */
export function readError(value: unknown): SerializedError | string {
  if (!isFields(value)) return 'the error is not an object';
  if (typeof value.name !== 'string' || typeof value.message !== 'string') return 'the error has no text name and message';
  if (!isOptional(value.stack, 'string') || !isOptional(value.code, 'string')) return "the error's stack or code is not text";
  return boundError(checked<SerializedError>(value));
}

/** How a run ended, as a thread pool worker, a module worker or an isolate reports it. */
export function readTaskResult(value: unknown): ThreadTaskResult | string {
  if (!isFields(value)) return 'the result is not an object';
  if (!isOptional(value.cpuMs, 'number') || !isOptional(value.peakMemoryMb, 'number')) return "the run's resource figures are not numbers";
  if (value.ok === false) {
    const error = readError(value.error);
    return typeof error === 'string' ? error : checked<ThreadTaskResult>({ ...value, error });
  }
  if (value.ok !== true) return 'the result says neither ok nor failed';
  if (value.result !== null && typeof value.result !== 'string') return 'the result is neither text nor null';
  if (value.specs !== undefined && !Array.isArray(value.specs)) return "the resolver's job specs are not a list";
  return checked<ThreadTaskResult>(value);
}

export function cacheOpProblem(request: unknown): string | null {
  if (!isFields(request) || !CACHE_OPS.has(request.op) || typeof request.key !== 'string') return 'a cache request without an operation and a text key';
  if (request.op === 'set' && !isOptional(request.ttlMs, 'number')) return 'a cache ttlMs that is not a number';
  return null;
}

/**
 * A message on a module run's own port (run-protocol.ts WorkerMessage): job code can reach that port too. A log line
 * is cut to LOG_LINE_MAX_CHARS (the worker's gate cuts it first: run-log-gate.ts).
 */
export function readRunPortMessage(message: unknown): WorkerMessage | string {
  if (!isFields(message)) return 'the message is not an object';
  switch (message.type) {
    case 'started':
      return Number.isFinite(message.at) ? checked<WorkerMessage>(message) : 'a start without a time';
    case 'log':
      return LEVELS.has(message.level) && typeof message.message === 'string'
        ? checked<WorkerMessage>({ ...message, message: clipText(message.message, LOG_LINE_MAX_CHARS) })
        : 'a log line without a level and text';
    case 'cache': {
      const problem = Number.isSafeInteger(message.id) ? cacheOpProblem(message.request) : 'a cache request without an id';
      return problem ?? checked<WorkerMessage>(message);
    }
    case 'end':
      return { type: 'end' };
    default:
      return 'a message of no known type';
  }
}

/** A worker's result as read, or why not: its own workers cut a result to RESULT_MAX_CHARS (worker-context.ts). */
export function readWorkerResult(value: unknown): ThreadTaskResult | Problem {
  const result = readTaskResult(value);
  if (typeof result === 'string' || !result.ok || result.result === null || result.result.length <= RESULT_MAX_CHARS) return result;
  return { why: `the result has ${count(result.result.length)} characters, over the limit of ${count(RESULT_MAX_CHARS)}`, code: TOO_LARGE_CODES.result };
}

export function isResult(read: ThreadTaskResult | Problem): read is ThreadTaskResult {
  return typeof read !== 'string' && !('why' in read);
}

export function unreadable(runId: string | null, problem: Problem): Unreadable {
  return typeof problem === 'string' ? { type: 'unreadable', runId, why: problem } : { type: 'unreadable', runId, why: problem.why, code: problem.code };
}
