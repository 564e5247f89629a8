/**
 * How big anything a thread or module worker sends the host may be, and the errors that say so. Both sides import
 * this file: the worker refuses or cuts a value before it is serialised or posted (a string's length is O(1); an
 * object's JSON is made by a walk that stops at the bound), and the host checks again when it reads, since job code
 * can post on the worker's port itself (wire-read.ts).
 *
 * Why a worker must not even cut a big string: V8 flattens a rope to slice it, and a string of 100 M characters
 * sliced in a worker with a 64 MB heap aborted the whole process ("Reached heap limit"), not just the worker. So a
 * string longer than SLICE_MAX_CHARS is never sliced, stringified or posted by the channel: its run fails instead.
 */
import type { SerializedError } from '../../errors/index.js';
import { sliceText, stringify } from './worker-primordials.js';

/** A cache value: at most this many characters of JSON (1 MiB). Bigger values are refused at ctx.cache.set. */
export const CACHE_VALUE_MAX_CHARS = 1_048_576;
/** The store's bound on a cache key (store/jobs.ts): checked in the worker before the key is written anywhere. */
export const CACHE_KEY_MAX_CHARS = 255;
/** One log line as the host reads it from a module worker (the worker's gate cuts lines to the run's cap first). */
export const LOG_LINE_MAX_CHARS = 1_048_576;
/** An error's message and its stack: each cut to this many characters. */
export const ERROR_TEXT_MAX_CHARS = 16_384;
/** A resolver's job specs: at most this many characters of JSON. */
export const SPECS_MAX_CHARS = 1_048_576;
/**
 * The longest text a worker cuts down (a result to resultMaxChars, a log line to its cap, an error's text): longer
 * ones are not touched at all (see the file comment), and the run fails or the line is replaced by a note.
 */
export const SLICE_MAX_CHARS = 4_194_304;
/** A result is cut to the host's resultMaxChars, but never kept longer than this, whatever the configuration. */
export const RESULT_MAX_CHARS = 1_048_576;
/**
 * One batch of a pool worker: the worker sends what it has once the text passes OUTBOX_FLUSH_CHARS, so with the
 * bounds above a batch stays well under BATCH_MAX_CHARS; the host refuses a longer one without parsing it.
 */
export const OUTBOX_FLUSH_CHARS = 1_048_576;
export const BATCH_MAX_CHARS = 16_777_216;

export const TOO_LARGE_CODES = {
  cacheValue: 'CACHE_VALUE_TOO_LARGE',
  cacheKey: 'CACHE_KEY_TOO_LARGE',
  result: 'RESULT_TOO_LARGE',
  specs: 'RESOLVER_OUTPUT_TOO_LARGE',
  message: 'WORKER_MESSAGE_TOO_LARGE',
} as const;

export type TooLargeCode = (typeof TOO_LARGE_CODES)[keyof typeof TOO_LARGE_CODES];

/** Thrown into job code (a cache.set, the end of a run) when what it hands over is over its limit. */
export class TooLargeError extends Error {
  readonly code: TooLargeCode;
  constructor(code: TooLargeCode, message: string) {
    super(message);
    this.name = 'TooLargeError';
    this.code = code;
  }
}

/** "1,048,576": limits and sizes in messages (operators only: job code may have changed Number's methods). */
export function count(n: number): string {
  let rest = n - (n % 1);
  let text = '';
  while (rest >= 1000) {
    const group = rest % 1000;
    text = `,${group < 10 ? '00' : group < 100 ? '0' : ''}${group}${text}`;
    rest = (rest - group) / 1000;
  }
  return `${rest}${text}`;
}

const { isArray } = Array;

/** Thrown by the replacer to stop a walk that went past its bound. */
class Oversize {
  constructor(readonly seen: number) {}
}

/**
 * The JSON text of `value` (undefined where JSON.stringify gives undefined), made by the JSON.stringify taken before
 * job code ran, or null when it would be longer than `max` characters. The replacer sees every value after its
 * toJSON, before it is written, and counts its raw size: the walk stops soon after the bound instead of building
 * a text of any size; `tooLarge` is then a lower bound of the text's length. (Escaping can make the text up to 6 ×
 * the count, so a text made is measured again.)
 * Throws what JSON.stringify throws (a BigInt, a cycle, a throwing toJSON).
 */
export function boundedJson(value: unknown, max: number): { json: string | undefined } | { tooLarge: number } {
  if (typeof value === 'string') {
    // JSON of a string is at least as long as the string: refuse by length, without reading it.
    if (value.length > max) return { tooLarge: value.length };
    const json = stringify(value);
    return json.length > max ? { tooLarge: json.length } : { json };
  }
  // A lower bound of the text's length: `"key":` (nothing for an array's index), a string with its quotes, at least
  // one character for anything else. The root's holder is {"": value}, whose key is never written.
  let seen = -3;
  const replacer = function (this: unknown, key: string, item: unknown): unknown {
    seen += isArray(this) ? 1 : key.length + 3;
    seen += typeof item === 'string' ? item.length + 2 : 1;
    if (seen > max) throw new Oversize(seen);
    return item;
  };
  let json: string | undefined;
  try {
    json = stringify(value, replacer);
  } catch (err) {
    if (err instanceof Oversize) return { tooLarge: err.seen };
    throw err;
  }
  if (json !== undefined && json.length > max) return { tooLarge: json.length };
  return { json };
}

/**
 * `text` cut to `max` characters with a note of what was cut; a text longer than SLICE_MAX_CHARS is replaced by a
 * note only (never sliced: see the file comment).
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  if (text.length > SLICE_MAX_CHARS) return `[a text of ${count(text.length)} characters was not kept: over the limit of ${count(max)}]`;
  return `${sliceText(text, 0, max)} … [+${count(text.length - max)} characters]`;
}

/** A job's error with each text cut to ERROR_TEXT_MAX_CHARS (a name or code is never longer than a message). */
export function boundError(error: SerializedError): SerializedError {
  const { name, message, stack, code } = error;
  return {
    name: clipText(name, ERROR_TEXT_MAX_CHARS),
    message: clipText(message, ERROR_TEXT_MAX_CHARS),
    ...(stack === undefined ? {} : { stack: clipText(stack, ERROR_TEXT_MAX_CHARS) }),
    ...(code === undefined ? {} : { code: clipText(code, ERROR_TEXT_MAX_CHARS) }),
  };
}

/** The start of the cache refusals, followed by the size; the isolate prelude writes them with the same words. */
export const CACHE_VALUE_LIMIT_TEXT = `a cache value may take at most ${count(CACHE_VALUE_MAX_CHARS)} characters of JSON; this one takes `;
export const CACHE_KEY_LIMIT_TEXT = `a cache key may have at most ${CACHE_KEY_MAX_CHARS} characters; this one has `;

export function cacheValueTooLarge(size: number): TooLargeError {
  return new TooLargeError(TOO_LARGE_CODES.cacheValue, `${CACHE_VALUE_LIMIT_TEXT}${count(size)} or more`);
}

export function cacheKeyTooLarge(length: number): TooLargeError {
  return new TooLargeError(TOO_LARGE_CODES.cacheKey, `${CACHE_KEY_LIMIT_TEXT}${count(length)}`);
}
