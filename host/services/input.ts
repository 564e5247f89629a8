/**
 * The parsers every route's input goes through: ids and whole numbers (from a path, a query or a JSON body), flags,
 * dates and bodies. One place, so a value no route expected (NaN, 1.5, 1e308, '', an array) is a 400 that names its
 * field everywhere instead of reaching the database (`Unknown column 'NaN'` on MariaDB was one such 500).
 */
import { badRequest } from '../errors/index.js';
import type { Page } from '../store/types.js';

/** Ids are row ids; 15 digits stay exact in a JS number (2^53 has 16). */
export const MAX_ID = 999_999_999_999_999;
const DIGITS = /^\d{1,15}$/;

/**
 * A whole number from `min` to `max`: a JSON number, or the decimal digits of one (path and query values). Signs,
 * fractions, exponents, hex and spaces are refused rather than guessed at.
 */
export function wholeNumber(value: unknown, field: string, min: number, max: number): number {
  const number = whole(value);
  if (!(number >= min && number <= max)) throw badRequest(`${field} must be a whole number from ${min} to ${max}`, field);
  return number;
}

/** A row id: a positive whole number. */
export function parseId(value: unknown, field: string): number {
  const number = whole(value);
  if (!(number >= 1 && number <= MAX_ID)) throw badRequest(`${field} must be a positive whole number (an id)`, field);
  return number;
}

/** The number a value stands for, or NaN. */
function whole(value: unknown): number {
  if (typeof value === 'string') return DIGITS.test(value) ? Number(value) : NaN;
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : NaN;
}

/** An optional id; undefined when absent. */
export function optionalId(value: unknown, field: string): number | undefined {
  return value === undefined ? undefined : parseId(value, field);
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw badRequest(`${field} must be one of ${allowed.join(', ')}`, field);
  }
  return value as T;
}

/** A yes/no query parameter: 1/true or 0/false; absent is false. */
export function parseFlag(value: string | undefined, field: string): boolean {
  if (value === undefined || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw badRequest(`${field} must be 1, true, 0 or false`, field);
}

/** An ISO 8601 date with a four-digit year, the range both databases store. */
export function parseDate(value: string, field: string): Date {
  const date = new Date(value);
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < 1 || year > 9999) {
    throw badRequest(`${field} must be an ISO 8601 date such as 2026-03-01T09:00:00Z`, field);
  }
  return date;
}

/** A JSON object: the request body, or the field `what` of it. */
export function assertObject(body: unknown, what = 'request body'): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(`${what} must be a JSON object`, what === 'request body' ? undefined : what);
  }
  return body as Record<string, unknown>;
}

/** A body that may be left out (no content): absent is an empty object, anything else must be an object. */
export function optionalObject(body: unknown): Record<string, unknown> {
  return body === undefined ? {} : assertObject(body);
}

/** Query parameters as single values: one given twice is refused by name, not passed on as an array. */
export function singleValues(query: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw badRequest(`${name} must be given once`, name);
    out[name] = value;
  }
  return out;
}

/**
 * How many bytes of JSON (UTF-8) a job's params, a trigger's params and a job's config overrides may each take. An
 * exec run receives its params as one environment variable, and Linux refuses any one argument or variable longer
 * than MAX_ARG_STRLEN (128 KiB) with E2BIG at spawn: 64,000 bytes leave room, in bytes and not characters (a
 * character can take three).
 */
export const MAX_JSON_BYTES = 64_000;

/** A JSON value of at most MAX_JSON_BYTES bytes as text. */
export function boundedJson(value: unknown, field: string): unknown {
  const text = JSON.stringify(value);
  if (text !== undefined && Buffer.byteLength(text) > MAX_JSON_BYTES) {
    throw badRequest(`${field} must be at most ${MAX_JSON_BYTES.toLocaleString('en')} bytes of JSON`, field);
  }
  return value;
}

/** true or false; absent (or null) is undefined. A string such as "yes" is refused, not read as true. */
export function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`${field} must be true or false`, field);
  return value;
}

/** Refuses any field of `input` that is not in `known`, by its (dotted) name. */
export function knownFields(input: Record<string, unknown>, known: ReadonlySet<string> | readonly string[], prefix = ''): void {
  const allowed = known instanceof Set ? known : new Set(known as readonly string[]);
  for (const key of Object.keys(input)) {
    if (!allowed.has(key)) throw badRequest(`unknown field "${prefix}${key}"`, `${prefix}${key}`);
  }
}

/**
 * A key of a string map a client names (config overrides). `__proto__` is refused: JSON.parse makes it an own key,
 * but copying it into an object sets that object's prototype instead of a key, so the value vanished silently.
 */
export function mapKey(key: string, field: string, max: number): string {
  const name = `${field}.${key}`;
  if (key === '__proto__') throw badRequest(`${name} is not allowed as a key`, name);
  if (key.length === 0 || key.length > max || key.includes('\u0000')) {
    throw badRequest(`${field} keys must be 1 to ${max} characters, without NUL (got ${JSON.stringify(key.slice(0, 50))}, ${key.length} characters)`, field);
  }
  return key;
}

/** What a list paged by id (jobs, projects) was asked for: `?q=&limit=&cursor=`. */
export interface ListPage {
  limit: number;
  /** From the cursor: the last id of the page before. */
  afterId?: number;
  /** `q`: a part of the name, any case. */
  nameContains?: string;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1_000;
/** Names are at most 200 characters: a longer q could match nothing. */
const MAX_QUERY = 200;
const ID_CURSOR = /^id:(\d{1,15})$/;

/** Reads `q`, `limit` (1 to 1,000, default 100) and `cursor` (one a page of this list handed out; empty: none). */
export function parseListPage(query: Record<string, string | undefined>): ListPage {
  const limit = query.limit === undefined ? DEFAULT_PAGE : wholeNumber(query.limit, 'limit', 1, MAX_PAGE);
  const page: ListPage = { limit };
  if (query.cursor) {
    const match = ID_CURSOR.exec(Buffer.from(query.cursor, 'base64url').toString('utf8'));
    if (!match || Buffer.from(match[0]).toString('base64url') !== query.cursor) throw badRequest('cursor is not one this server handed out', 'cursor');
    page.afterId = Number(match[1]);
  }
  if (query.q !== undefined && query.q !== '') {
    // No name holds a control character, and SQLite's driver cannot take NUL inside a literal.
    if (query.q.length > MAX_QUERY || [...query.q].some((c) => c < ' ' || c === '\u007f')) {
      throw badRequest(`q must be at most ${MAX_QUERY} characters, without control characters`, 'q');
    }
    page.nameContains = query.q;
  }
  return page;
}

/**
 * The page from rows read with limit + 1 (the extra row only says that more follow): ordered by id ascending, so a
 * row made while a client pages lands on a later page and none shifts under it.
 */
export function idPage<T extends { id: number }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? Buffer.from(`id:${last.id}`).toString('base64url') : null };
}
