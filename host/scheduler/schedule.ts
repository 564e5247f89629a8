/**
 * Pure functions over a Schedule: when does it fire. One code path (nextFireMs) answers every question, so the
 * "next runs" shown to users, the scheduler's timer and missed-run detection after a restart always agree.
 *
 * Rules:
 * - Fire times are strictly after the `after` instant asked about.
 * - startAt is inclusive (a fire exactly at startAt counts), endAt is inclusive too (a fire exactly at endAt is the
 *   last one); nothing fires outside [startAt, endAt].
 * - INTERVAL fires fall on anchorAt + k × everyMs for whole k. anchorAt defaults to startAt, then to the Unix epoch
 *   (fires on multiples of everyMs), so the phase never depends on when the question is asked and a restart keeps it.
 * - CRON is computed by croner (see cron.ts for the field rules and DST behaviour). Without a timezone the
 *   expression is read in the host process's time zone.
 * - MANUAL fires only when a user triggers it, with one exception: a MANUAL job started ahead of its startAt fires
 *   once, at startAt (inside its window).
 */
import type { Schedule } from '@jobcenter/job-api';
import { CronCache } from './cron.js';
import { parseInstant } from './schedule-input.js';

export { validateSchedule, parseInstant } from './schedule-input.js';
export { normaliseCron, CronCache, type CompiledCron } from './cron.js';

// A memo of parsed expressions, not a collaborator: the functions below stay pure in what they return, and sharing
// one cache is what makes 100,000 jobs on a few hundred expressions cheap (see CronCache).
const sharedCrons = new CronCache();

/** The first fire time strictly after `after`, or null when the schedule never fires again (MANUAL, past endAt). */
export function nextFireTime(schedule: Schedule, anchorAt: Date | null, after: Date): Date | null {
  const next = nextFireMs(schedule, anchorAt, after.getTime());
  return next === null ? null : new Date(next);
}

/** Fire times in (afterExclusive, untilInclusive], oldest first, at most `limit` of them (missed-run detection). */
export function fireTimesBetween(
  schedule: Schedule,
  anchorAt: Date | null,
  afterExclusive: Date,
  untilInclusive: Date,
  limit: number,
): Date[] {
  const until = untilInclusive.getTime();
  const fires: Date[] = [];
  let next = nextFireMs(schedule, anchorAt, afterExclusive.getTime());
  while (next !== null && next <= until && fires.length < limit) {
    fires.push(new Date(next));
    next = nextFireMs(schedule, anchorAt, next);
  }
  return fires;
}

/** The next `n` fire times strictly after `from` (the "next runs" shown to users); fewer when the schedule ends. */
export function previewFireTimes(schedule: Schedule, anchorAt: Date | null, from: Date, n: number): Date[] {
  const fires: Date[] = [];
  let next = nextFireMs(schedule, anchorAt, from.getTime());
  while (next !== null && fires.length < n) {
    fires.push(new Date(next));
    next = nextFireMs(schedule, anchorAt, next);
  }
  return fires;
}

/** The one place that decides fire times; everything above and the Scheduler call it. */
export function nextFireMs(schedule: Schedule, anchorAt: Date | null, afterMs: number): number | null {
  if (schedule.type === 'MANUAL') return schedule.startAt ? manualFireMs(schedule, schedule.startAt, afterMs) : null;
  const zone = schedule.type === 'CRON' ? schedule.timezone : undefined;
  const startMs = schedule.startAt ? instantMs(schedule.startAt, 'schedule.startAt', zone) : null;
  // Searching from just before startAt lets a fire exactly at startAt count.
  const fromMs = startMs !== null ? Math.max(afterMs, startMs - 1) : afterMs;
  const next =
    schedule.type === 'INTERVAL'
      ? nextIntervalMs(schedule.everyMs, anchorAt?.getTime() ?? startMs ?? 0, fromMs)
      : sharedCrons.get(schedule.cron, schedule.timezone).nextAfter(fromMs);
  if (next === null) return null;
  if (schedule.endAt && next > instantMs(schedule.endAt, 'schedule.endAt', zone)) return null;
  return next;
}

/** Whether `atMs` lies inside the schedule's window [startAt, endAt]. */
export function withinWindow(schedule: Schedule, atMs: number): boolean {
  const zone = schedule.type === 'CRON' ? schedule.timezone : undefined;
  if (schedule.startAt && atMs < instantMs(schedule.startAt, 'schedule.startAt', zone)) return false;
  return !schedule.endAt || atMs <= instantMs(schedule.endAt, 'schedule.endAt', zone);
}

function manualFireMs(schedule: Schedule, startAt: string, afterMs: number): number | null {
  const startMs = instantMs(startAt, 'schedule.startAt', undefined);
  return startMs > afterMs && withinWindow(schedule, startMs) ? startMs : null;
}

function nextIntervalMs(everyMs: number, anchorMs: number, afterMs: number): number {
  const k = Math.floor((afterMs - anchorMs) / everyMs) + 1;
  return anchorMs + k * everyMs;
}

// Validated schedules hold UTC ISO strings (the fast path); older or hand-written rows go through the full parser.
const WITH_OFFSET = /(?:Z|[+-]\d{2}:\d{2})$/;
function instantMs(value: string, field: string, zone: string | undefined): number {
  return WITH_OFFSET.test(value) ? Date.parse(value) : parseInstant(value, field, zone).getTime();
}
