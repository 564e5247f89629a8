/**
 * Validation of user-supplied schedules. Every message starts with the field it is about (`schedule.cron: …`) and
 * says what would be accepted, because it goes back to the user as a 400.
 */
import type { Schedule } from '@jobcenter/job-api';
import { CronDate } from 'croner';
import { MAX_INTERVAL_MS, MIN_INTERVAL_MS } from '../domain/index.js';
import { badRequest } from '../errors/index.js';
import { normaliseCron, parseCron } from './cron.js';

const FIELDS_OF: Record<Schedule['type'], readonly string[]> = {
  MANUAL: ['type', 'startAt', 'endAt'],
  INTERVAL: ['type', 'everyMs', 'startAt', 'endAt'],
  CRON: ['type', 'cron', 'timezone', 'startAt', 'endAt'],
};
// A date, optionally a time (hours 00-23), optionally an offset. Offset-less times are read in the schedule's zone.
const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * Checks a schedule a user sent and returns it normalised: cron in its six-field form, the time zone's canonical
 * name, startAt/endAt as UTC ISO strings, unknown fields refused. Throws badRequest(message, field) otherwise.
 * `now` only serves to refuse a cron expression that never fires (e.g. 30 February).
 */
export function validateSchedule(input: unknown, now: Date = new Date()): Schedule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('schedule: expected an object such as { "type": "CRON", "cron": "0 */5 * * * *" }', 'schedule');
  }
  const raw = input as Record<string, unknown>;
  const type = raw.type;
  if (type !== 'MANUAL' && type !== 'INTERVAL' && type !== 'CRON') {
    throw badRequest(`schedule.type: expected MANUAL, INTERVAL or CRON, got ${describe(type)}`, 'schedule.type');
  }
  for (const key of Object.keys(raw)) {
    if (!FIELDS_OF[type].includes(key)) {
      throw badRequest(`schedule.${key}: not a field of ${type} schedules (allowed: ${FIELDS_OF[type].join(', ')})`, `schedule.${key}`);
    }
  }
  const timezone = type === 'CRON' ? validateTimezone(raw.timezone) : undefined;
  const window = validateWindow(raw.startAt, raw.endAt, timezone);
  if (type === 'MANUAL') return { type, ...window };
  if (type === 'INTERVAL') return { type, everyMs: validateEveryMs(raw.everyMs), ...window };
  const cron = validateCron(raw.cron, timezone, now);
  return { type, cron, ...(timezone ? { timezone } : {}), ...window };
}

function validateEveryMs(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw badRequest(`schedule.everyMs: expected an integer number of milliseconds, got ${describe(value)}`, 'schedule.everyMs');
  }
  if (value < MIN_INTERVAL_MS) {
    throw badRequest(`schedule.everyMs: must be at least ${MIN_INTERVAL_MS} (1 second), got ${value}`, 'schedule.everyMs');
  }
  if (value > MAX_INTERVAL_MS) {
    throw badRequest(`schedule.everyMs: must be at most ${MAX_INTERVAL_MS} (31 days), got ${value}`, 'schedule.everyMs');
  }
  return value;
}

function validateTimezone(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_TIMEZONE) {
    throw badRequest(`schedule.timezone: expected an IANA time zone name (at most ${MAX_TIMEZONE} characters) such as "Europe/Berlin", got ${describe(value)}`, 'schedule.timezone');
  }
  try {
    return new Intl.DateTimeFormat('en', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    throw badRequest(`schedule.timezone: unknown time zone ${value}`, 'schedule.timezone');
  }
}

function validateCron(value: unknown, timezone: string | undefined, now: Date): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_CRON) {
    throw badRequest(`schedule.cron: expected a cron expression of at most ${MAX_CRON} characters such as "0 */5 * * * *", got ${describe(value)}`, 'schedule.cron');
  }
  const cron = normaliseCron(value);
  if (parseCron(cron, timezone).nextRun(now) === null) {
    throw badRequest(`schedule.cron: "${value}" never fires (no date matches it)`, 'schedule.cron');
  }
  return cron;
}

function validateWindow(startAt: unknown, endAt: unknown, timezone: string | undefined): { startAt?: string; endAt?: string } {
  const start = startAt === undefined ? undefined : parseInstant(startAt, 'schedule.startAt', timezone);
  const end = endAt === undefined ? undefined : parseInstant(endAt, 'schedule.endAt', timezone);
  if (start && end && end.getTime() <= start.getTime()) {
    throw badRequest(`schedule.endAt: must be after schedule.startAt (${start.toISOString()}), got ${end.toISOString()}`, 'schedule.endAt');
  }
  return { ...(start ? { startAt: start.toISOString() } : {}), ...(end ? { endAt: end.toISOString() } : {}) };
}

/** ISO 8601; a time without offset (or a bare date, meaning midnight) is read in the schedule's zone, else the host's. */
export function parseInstant(value: unknown, field: string, timezone?: string): Date {
  const match = typeof value === 'string' ? ISO_8601.exec(value) : null;
  if (!match) {
    throw badRequest(`${field}: expected an ISO 8601 date-time such as "2026-03-01T09:00:00Z", got ${describe(value)}`, field);
  }
  const [, date = '', time = '00:00', fraction = '', offset] = match;
  const local = `${date}T${time.length === 5 ? `${time}:00` : time}`;
  const asUtc = new Date(`${local}Z`);
  // Date.parse rolls 2026-02-30 over to 2 March and accepts 24:00; a round trip catches both.
  if (Number.isNaN(asUtc.getTime()) || asUtc.toISOString().slice(0, 19) !== local) {
    throw badRequest(`${field}: ${String(value)} is not a valid date-time`, field);
  }
  const ms = fraction ? Number(fraction.slice(1).padEnd(3, '0')) : 0;
  const base = offset ? new Date(`${local}${offset}`) : new CronDate(local, timezone).getDate(false);
  return new Date(base.getTime() + ms);
}

/** What a client sent, shown in a message: cut short, so a 200 KB value does not come back in the answer. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 100 ? `${text.slice(0, 100)}… (${text.length} characters)` : text;
}

/** A cron expression has at most 7 fields of ranges and lists; a time zone name is far shorter. */
const MAX_CRON = 200;
const MAX_TIMEZONE = 100;
