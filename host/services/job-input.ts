/**
 * Validation of job bodies at the edge: every message names the field and says what is wrong.
 */
import type { HostConfig } from '../config/index.js';
import { badRequest } from '../errors/index.js';
import { validateSchedule } from '../scheduler/schedule.js';
import { assertObject, boundedJson, knownFields, mapKey, MAX_JSON_BYTES, oneOf, optionalBoolean } from './input.js';
import type { Concurrency, JobGrants, JobKind, JobRecord, Misfire, OnInterrupt, RetryPolicy } from '../domain/index.js';

export type JobInput = Pick<
  JobRecord,
  | 'name'
  | 'kind'
  | 'entry'
  | 'params'
  | 'configFile'
  | 'profile'
  | 'config'
  | 'schedule'
  | 'concurrency'
  | 'maxQueue'
  | 'timeoutMs'
  | 'memoryLimitMb'
  | 'misfire'
  | 'onInterrupt'
  | 'shell'
  | 'grants'
  | 'retries'
>;

const KINDS: readonly JobKind[] = ['thread', 'module', 'isolate', 'exec'];
const CONCURRENCY: readonly Concurrency[] = ['ALLOW', 'WAIT', 'SKIP'];
const MISFIRE: readonly Misfire[] = ['fireOnce', 'skip', 'fireAll'];
const ON_INTERRUPT: readonly OnInterrupt[] = ['none', 'rerun'];
const FIELDS = new Set([
  'projectId', 'name', 'kind', 'entry', 'params', 'configFile', 'profile', 'config', 'schedule', 'concurrency',
  'maxQueue', 'timeoutMs', 'memoryLimitMb', 'misfire', 'onInterrupt', 'shell', 'grants', 'retries', 'start',
]);

/**
 * Linux refuses one argv string longer than MAX_ARG_STRLEN (128 KiB with its NUL) with E2BIG at spawn, and all of
 * argv and the environment together past ARG_MAX (2 MiB here); a run would only fail there, so creation refuses it.
 */
export const MAX_ARG_BYTES = 128 * 1024 - 1;
const MAX_ARGV_BYTES = 256 * 1024;
export const MAX_ARGV_LENGTH = 1_000;
export const MAX_CONFIG_KEY = 200;
export const MAX_FETCH_HOSTS = 100;

/** A full job body (create). */
export function parseJobInput(body: unknown, config: HostConfig): JobInput {
  const input = assertObject(body);
  knownFields(input, FIELDS);
  optionalBoolean(input.start, 'start');
  return {
    name: parseName(input.name),
    kind: oneOf(input.kind, KINDS, 'kind'),
    entry: parseEntry(input.entry, input.kind),
    params: parseParams(input.params),
    configFile: optionalFileName(input.configFile, 'configFile'),
    profile: optionalProfile(input.profile),
    config: parseConfigMap(input.config),
    schedule: validateSchedule(input.schedule),
    concurrency: input.concurrency === undefined ? 'ALLOW' : oneOf(input.concurrency, CONCURRENCY, 'concurrency'),
    maxQueue: optionalInt(input.maxQueue, 'maxQueue', 1, 10_000) ?? config.defaultMaxQueue,
    timeoutMs: optionalInt(input.timeoutMs, 'timeoutMs', 1, 30 * 86_400_000),
    memoryLimitMb: optionalInt(input.memoryLimitMb, 'memoryLimitMb', 8, 16_384),
    misfire: input.misfire === undefined ? 'fireOnce' : oneOf(input.misfire, MISFIRE, 'misfire'),
    onInterrupt: input.onInterrupt === undefined ? 'none' : oneOf(input.onInterrupt, ON_INTERRUPT, 'onInterrupt'),
    shell: optionalBoolean(input.shell, 'shell') ?? false,
    grants: parseGrants(input.grants),
    retries: parseRetries(input.retries),
  };
}

/** A partial body (PATCH): only the fields given, each validated; kind and entry are checked together. */
export function parseJobPatch(body: unknown, current: JobRecord, config: HostConfig): Partial<JobInput> {
  const input = assertObject(body);
  knownFields(input, FIELDS);
  if ('start' in input) throw badRequest('start is taken only when a job is created; start a job with POST /api/v1/jobs/:id/start', 'start');
  if ('projectId' in input && input.projectId !== current.projectId) throw badRequest('projectId cannot change', 'projectId');
  // The record's own columns (id, state, anchorAt, …) are not input: only the fields a body may carry are merged.
  const merged: Record<string, unknown> = {};
  for (const key of FIELDS) if (key in current) merged[key] = current[key as keyof JobRecord];
  const full = parseJobInput({ ...merged, ...input, projectId: undefined, start: undefined }, config);
  const patch: Partial<JobInput> = {};
  for (const key of Object.keys(input) as (keyof JobInput)[]) {
    if (key in full) (patch as Record<string, unknown>)[key] = full[key];
  }
  return patch;
}

/** The fields of a parsed patch whose values differ from the job's (JSON values compared whatever their key order). */
export function changedFields(job: JobRecord, patch: Partial<JobInput>): Partial<JobInput> {
  const changed: Partial<JobInput> = {};
  for (const [key, value] of Object.entries(patch) as [keyof JobInput, unknown][]) {
    if (canonical(value) !== canonical(job[key])) (changed as Record<string, unknown>)[key] = value;
  }
  return changed;
}

function canonical(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function parseName(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,199}$/.test(name)) {
    throw badRequest('name must be 1 to 200 characters: letters, digits, spaces, dots, colons, dashes, underscores', 'name');
  }
  return name;
}

function parseEntry(entry: unknown, kind: unknown): string | string[] {
  if (kind === 'exec') {
    if (!Array.isArray(entry) || entry.length === 0 || !entry.every((a) => typeof a === 'string') || entry[0] === '') {
      throw badRequest('entry must be a non-empty array of strings (the argv) for kind exec', 'entry');
    }
    return parseArgv(entry as string[]);
  }
  if (typeof entry !== 'string' || !/^[A-Za-z_$][\w$]{0,199}$/.test(entry)) {
    throw badRequest('entry must be the name of an exported job (an identifier)', 'entry');
  }
  return entry;
}

/** An exec argv the kernel will take: each argument and the whole within Linux's limits, no NUL anywhere. */
function parseArgv(argv: string[]): string[] {
  if (argv.length > MAX_ARGV_LENGTH) throw badRequest(`entry must have at most ${MAX_ARGV_LENGTH} arguments`, 'entry');
  let total = 0;
  argv.forEach((arg, index) => {
    const bytes = Buffer.byteLength(arg);
    if (bytes > MAX_ARG_BYTES) {
      throw badRequest(`entry[${index}] is ${bytes} bytes; one argument may take at most ${MAX_ARG_BYTES} bytes (Linux MAX_ARG_STRLEN)`, `entry[${index}]`);
    }
    if (arg.includes('\u0000')) throw badRequest(`entry[${index}] must not contain NUL`, `entry[${index}]`);
    total += bytes + 1;
  });
  if (total > MAX_ARGV_BYTES) throw badRequest(`entry must take at most ${MAX_ARGV_BYTES} bytes in all (it takes ${total})`, 'entry');
  return argv;
}

/** Params of a job or of one trigger: any JSON value up to MAX_JSON_BYTES; absent is null. */
export function parseParams(params: unknown): unknown {
  return params === undefined ? null : boundedJson(params, 'params');
}

function parseConfigMap(config: unknown): Record<string, string> {
  if (config === undefined || config === null) return {};
  const map = assertObject(config, 'config');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) {
    mapKey(key, 'config', MAX_CONFIG_KEY);
    if (typeof value !== 'string' || value.includes('\u0000') || Buffer.byteLength(value) > MAX_JSON_BYTES) {
      throw badRequest(`config.${key} must be a string of at most ${MAX_JSON_BYTES.toLocaleString('en')} bytes, without NUL`, `config.${key}`);
    }
    out[key] = value;
  }
  boundedJson(out, 'config');
  return out;
}

function optionalFileName(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.properties$/.test(value)) {
    throw badRequest(`${field} must be the name of a .properties file in the bundle's config/ folder`, field);
  }
  return value;
}

function optionalProfile(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,50}$/.test(value)) {
    throw badRequest('profile must be 1 to 50 letters, digits, dashes or underscores', 'profile');
  }
  return value;
}

function optionalInt(value: unknown, field: string, min: number, max: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badRequest(`${field} must be a whole number from ${min} to ${max}`, field);
  }
  return value;
}

function parseRetries(value: unknown): RetryPolicy | null {
  if (value === undefined || value === null) return null;
  const input = assertObject(value, 'retries');
  knownFields(input, ['count', 'backoff'], 'retries.');
  const count = optionalInt(input.count, 'retries.count', 0, 100);
  if (count === null) throw badRequest('retries.count is required: how many times a failed run is run again (0 to 100)', 'retries.count');
  const backoff = assertObject(input.backoff ?? { type: 'fixed', delayMs: 1000 }, 'retries.backoff');
  knownFields(backoff, ['type', 'delayMs', 'maxDelayMs'], 'retries.backoff.');
  const type = oneOf(backoff.type ?? 'fixed', ['fixed', 'exponential'] as const, 'retries.backoff.type');
  const delayMs = optionalInt(backoff.delayMs, 'retries.backoff.delayMs', 0, 86_400_000) ?? 1000;
  const maxDelayMs = optionalInt(backoff.maxDelayMs, 'retries.backoff.maxDelayMs', 0, 7 * 86_400_000);
  if (maxDelayMs !== null && maxDelayMs < delayMs) throw badRequest('retries.backoff.maxDelayMs must be at least delayMs', 'retries.backoff.maxDelayMs');
  return { count, backoff: { type, delayMs, ...(maxDelayMs !== null ? { maxDelayMs } : {}) } };
}

function parseGrants(value: unknown): JobGrants | null {
  if (value === undefined || value === null) return null;
  const grants = assertObject(value, 'grants');
  const out: JobGrants = {};
  for (const [key, grant] of Object.entries(grants)) {
    if (key !== 'fetch') throw badRequest(`grants.${key} is not a grant; the only grant is fetch`, `grants.${key}`);
    const hostList = Array.isArray(grant) && grant.length <= MAX_FETCH_HOSTS && grant.every((h) => typeof h === 'string' && /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/.test(h));
    if (typeof grant !== 'boolean' && !hostList) {
      throw badRequest(`grants.fetch must be true, false, or a list of at most ${MAX_FETCH_HOSTS} host names (host or host:port)`, 'grants.fetch');
    }
    out.fetch = grant as boolean | string[];
  }
  return out;
}
