/**
 * Inside a thread pool worker: the JSON text of the items it sends the host (thread-protocol.ts PoolWorkerItem), written by
 * code job code cannot change. The channel's own objects are written here field by field, so no toJSON is looked up
 * for them (JSON.stringify of an array or object would ask Array.prototype and Object.prototype, which job code can
 * give one); the original JSON.stringify (worker-primordials.ts) only ever sees a primitive, or a value of the job's
 * own: a cache value or a resolver's specs, made JSON on its own so that what a toJSON does stays inside that value.
 * The host reads the text back with thread-read.ts.
 */
import type { LogLevel } from '@jobcenter/job-api';
import type { SerializedError } from '../../errors/index.js';
import type { CacheOp, ThreadTaskResult } from '../shared/run-protocol.js';
import type { RunUsage } from '../shared/executor.js';
import { boundedJson, boundError, CACHE_VALUE_MAX_CHARS, cacheValueTooLarge, count, SPECS_MAX_CHARS, TOO_LARGE_CODES, TooLargeError } from '../shared/wire-limits.js';
import { stringify } from '../shared/worker-primordials.js';

/** Taken before job code runs, as the primordials are. */
const { isFinite } = Number;

/** A primitive string never looks up toJSON. */
const quote = (text: string): string => stringify(text);

export function logItemJson(runId: string, level: LogLevel, message: string): string {
  return `{"type":"log","runId":${quote(runId)},"level":${quote(level)},"message":${quote(message)}}`;
}

/**
 * A cache request. The value is made JSON here, in the job's own call, so a value JSON cannot carry (a BigInt, a
 * cycle) or a toJSON that throws rejects that call, and a change the job makes to the value afterwards is not sent.
 */
export function cacheItemJson(runId: string, id: number, request: CacheOp): string {
  let op = `{"op":${quote(request.op)},"key":${quote(request.key)}`;
  if (request.op === 'set') {
    // Measured as it is written: a toJSON may give something else the second time it is asked.
    const measured = boundedJson(request.value, CACHE_VALUE_MAX_CHARS);
    if ('tooLarge' in measured) throw cacheValueTooLarge(measured.tooLarge);
    const value = measured.json;
    if (value !== undefined) op += `,"value":${value}`;
    if (request.ttlMs !== undefined) op += `,"ttlMs":${stringify(request.ttlMs)}`;
  }
  return `{"type":"cache","runId":${quote(runId)},"id":${id},"request":${op}}}`;
}

/**
 * A run's end; throws only when a resolver's specs cannot be made JSON (the caller reports that as its error).
 * `used`: what the run used, written with the result (no object made to merge the two), else the result's own figures.
 */
export function resultItemJson(runId: string, result: ThreadTaskResult, startedAt: number | undefined, used?: RunUsage | null): string {
  const at = startedAt === undefined ? '' : `,"startedAt":${numberJson(startedAt)}`;
  return `{"type":"result","runId":${quote(runId)},"result":${taskResultJson(result, used ?? result)}${at}}`;
}

function taskResultJson(result: ThreadTaskResult, used: RunUsage): string {
  const usage = usageJson(used);
  if (!result.ok) return `{"ok":false,"error":${errorJson(result.error)}${usage}}`;
  const text = result.result === null ? 'null' : quote(result.result);
  if (result.specs === undefined) return `{"ok":true,"result":${text}${usage}}`;
  const measured = boundedJson(result.specs, SPECS_MAX_CHARS);
  if ('tooLarge' in measured) {
    throw new TooLargeError(TOO_LARGE_CODES.specs, `the resolver's job specs may take at most ${count(SPECS_MAX_CHARS)} characters of JSON; these take ${count(measured.tooLarge)} or more`);
  }
  const specs = measured.json;
  return `{"ok":true,"result":${text},"specs":${specs ?? 'null'}${usage}}`;
}

/** What the run used (worker-usage.ts), when known: finite numbers, written as JSON numbers. */
function usageJson({ cpuMs, peakMemoryMb }: RunUsage): string {
  let text = '';
  if (cpuMs !== undefined && isFinite(cpuMs)) text += `,"cpuMs":${numberJson(cpuMs)}`;
  if (peakMemoryMb !== undefined && isFinite(peakMemoryMb)) text += `,"peakMemoryMb":${numberJson(peakMemoryMb)}`;
  return text;
}

/**
 * A number as JSON.stringify writes it (null for NaN and the infinities), without its generic path: ToString of a
 * primitive number is the language's own, so no method job code can replace is looked up. The host's start items
 * use it too (thread-handle.ts).
 */
export function numberJson(value: number): string {
  return isFinite(value) ? `${value}` : 'null';
}

/** Every text of a job's error is cut to ERROR_TEXT_MAX_CHARS (wire-limits.ts). */
function errorJson(error: SerializedError): string {
  const { name, message, stack, code } = boundError(error);
  let text = `{"name":${quote(name)},"message":${quote(message)}`;
  if (stack !== undefined) text += `,"stack":${quote(stack)}`;
  if (code !== undefined) text += `,"code":${quote(code)}`;
  return `${text}}`;
}
