/**
 * The next fire times of a job (GET /jobs/:id/fires) and of a schedule not saved yet (POST /schedules/preview). Both
 * come from the scheduler's own code (previewFireTimes over nextFireMs) and the schedule validation a job's creation
 * uses, so what a user is shown is what will fire.
 */
import type { Schedule } from '@jobcenter/job-api';
import { badRequest, hasCode, type HostError } from '../errors/index.js';
import { previewFireTimes, validateSchedule } from '../scheduler/schedule.js';
import type { JobRecord } from '../domain/index.js';
import { assertObject, knownFields, wholeNumber } from './input.js';

export interface FirePreview {
  /** The zone the schedule is read in: a CRON schedule's own, else the host's. Fires are UTC ISO strings. */
  timezone: string;
  fires: string[];
}

const DEFAULT_COUNT = 10;
const MAX_COUNT = 100;
/** The window of a preview may be given beside the schedule as well as in it. */
const WINDOW = ['startAt', 'endAt'] as const;

/** `count`: 1 to 100, 10 when absent. */
export function parseFireCount(value: unknown): number {
  return value === undefined ? DEFAULT_COUNT : wholeNumber(value, 'count', 1, MAX_COUNT);
}

/**
 * A job on the schedule (ACTIVE, PENDING): its next `count` fires, from the fire the scheduler holds for it (`next`).
 * A stopped job: the fires it would have if it were started now (an INTERVAL starts its phase at startAt, or now, as
 * a start does). A disabled job has none, and a MANUAL one none but what the scheduler's code gives it.
 */
export function jobFires(job: JobRecord, next: Date | null, count: number, now = new Date()): FirePreview {
  const timezone = zoneOf(job.schedule);
  if (job.disabled) return { timezone, fires: [] };
  if (next) return shown(timezone, [next, ...previewFireTimes(job.schedule, job.anchorAt, next, count - 1)]);
  const anchorAt = job.state === 'STOPPED' ? (job.schedule.startAt ? new Date(job.schedule.startAt) : now) : job.anchorAt;
  return shown(timezone, previewFireTimes(job.schedule, anchorAt, now, count));
}

/** `{ schedule, startAt?, endAt?, count? }`: the fires the schedule would have on a job started now. */
export function previewSchedule(body: unknown, now = new Date()): FirePreview {
  const input = assertObject(body);
  knownFields(input, ['schedule', ...WINDOW, 'count']);
  const count = parseFireCount(input.count);
  const raw = input.schedule;
  const moved = WINDOW.filter((key) => input[key] !== undefined);
  let schedule: Schedule;
  if (moved.length === 0 || typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    schedule = validateSchedule(raw, now);
  } else {
    const merged: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
    for (const key of moved) {
      if (merged[key] !== undefined) throw badRequest(`${key} is given twice: beside the schedule and in it (schedule.${key})`, key);
      merged[key] = input[key];
    }
    try {
      schedule = validateSchedule(merged, now);
    } catch (err) {
      throw renamed(err, moved);
    }
  }
  const anchorAt = schedule.startAt ? new Date(schedule.startAt) : now;
  return shown(zoneOf(schedule), previewFireTimes(schedule, anchorAt, now, count));
}

/** An error about `schedule.startAt` that the client sent as `startAt` names what the client sent. */
function renamed(err: unknown, moved: readonly string[]): unknown {
  if (!hasCode(err, 'BAD_REQUEST')) return err;
  const field = ((err as HostError).details as { field?: unknown } | undefined)?.field;
  const key = typeof field === 'string' && field.startsWith('schedule.') ? field.slice('schedule.'.length) : null;
  if (!key || !moved.includes(key)) return err;
  const message = (err as HostError).message;
  return badRequest(message.startsWith(`${field as string}:`) ? `${key}${message.slice((field as string).length)}` : message, key);
}

function zoneOf(schedule: Schedule): string {
  return (schedule.type === 'CRON' ? schedule.timezone : undefined) ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function shown(timezone: string, fires: Date[]): FirePreview {
  return { timezone, fires: fires.map((at) => at.toISOString()) };
}
