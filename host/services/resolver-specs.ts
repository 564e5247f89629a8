/**
 * Validation of what a resolver returns. A resolver's output is user code's output, so each spec is checked with the
 * same rules as a job body sent over HTTP, and a bad one names its index and field (`specs[2].schedule.cron: …`).
 */
import type { HostConfig } from '../config/index.js';
import { hasCode, unprocessable } from '../errors/index.js';
import type { JobKind, JobRecord } from '../domain/index.js';
import { parseJobInput, type JobInput } from './job-input.js';

/** A validated spec: a job body with the host's defaults, plus the resolver's fingerprint of it. */
export interface SubJobSpec extends JobInput {
  identifierCode: string | null;
}

/** The fields a reconciliation compares: a difference in any of them updates and restarts the sub-job. */
export const COMPARED_FIELDS = ['identifierCode', 'entry', 'kind', 'params', 'schedule', 'concurrency'] as const;

const SPEC_FIELDS = new Set(['name', 'entry', 'kind', 'params', 'schedule', 'concurrency', 'identifierCode']);
const MAX_IDENTIFIER_CODE = 200;

/** Checks every spec (and that names are unique); throws an UNPROCESSABLE error naming the first bad one. */
export function validateSpecs(specs: readonly unknown[], resolverKind: JobKind, config: HostConfig): SubJobSpec[] {
  if (!Array.isArray(specs)) throw unprocessable('a resolver must return an array of job specs');
  const out: SubJobSpec[] = [];
  const seen = new Map<string, number>();
  specs.forEach((spec, index) => {
    const parsed = validateSpec(spec, index, resolverKind, config);
    const first = seen.get(parsed.name);
    if (first !== undefined) {
      throw specError(index, 'name', `"${parsed.name}" is also the name of specs[${first}]; sub-job names must be unique`);
    }
    seen.set(parsed.name, index);
    out.push(parsed);
  });
  return out;
}

function validateSpec(spec: unknown, index: number, resolverKind: JobKind, config: HostConfig): SubJobSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw unprocessable(`specs[${index}]: a job spec must be an object such as { name, entry, schedule }`);
  }
  const raw = spec as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!SPEC_FIELDS.has(key)) throw specError(index, key, `not a field of a job spec (allowed: ${[...SPEC_FIELDS].join(', ')})`);
  }
  const kind = raw.kind ?? resolverKind;
  let input: JobInput;
  try {
    input = parseJobInput(
      { name: raw.name, kind, entry: raw.entry, params: raw.params, schedule: raw.schedule, concurrency: raw.concurrency },
      config,
    );
  } catch (err) {
    if (!hasCode(err, 'BAD_REQUEST')) throw err;
    const field = ((err as { details?: { field?: string } }).details?.field) ?? 'spec';
    throw specError(index, field, (err as Error).message);
  }
  return { ...input, identifierCode: parseIdentifierCode(raw.identifierCode, index) };
}

function parseIdentifierCode(value: unknown, index: number): string | null {
  if (value === undefined || value === null) return null;
  const ok = (typeof value === 'string' && value.length <= MAX_IDENTIFIER_CODE) || (typeof value === 'number' && Number.isFinite(value));
  if (!ok) throw specError(index, 'identifierCode', `must be a string of at most ${MAX_IDENTIFIER_CODE} characters or a finite number`);
  return String(value);
}

/** `specs[i].field: message`, without repeating the field when the message already starts with it. */
export function specError(index: number, field: string, message: string): Error {
  const named = message.startsWith(`${field}:`) || message.startsWith(`${field} `);
  const text = named ? message : `${field}: ${message}`;
  return unprocessable(`invalid sub-job spec: specs[${index}].${text}`, { index, field });
}

/** Which compared fields differ between a sub-job and its wanted spec (JSON compared with keys sorted: MySQL reorders them). */
export function changedFields(job: JobRecord, spec: SubJobSpec): string[] {
  return COMPARED_FIELDS.filter((field) => canonical(job[field]) !== canonical(spec[field]));
}

function canonical(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
