/**
 * Where a job that is on the schedule (ACTIVE or PENDING) stands when its schedule is changed. Pure: the engine
 * writes the answer to the job row and puts the job on the schedule from it.
 *
 * Rules (docs/writing-jobs.md):
 * - Fires already handed over for the old schedule (its row written up to the lead time ahead) run; the new schedule
 *   takes over after the last of them, so no fire time runs twice and none that was promised is lost. Those that fall
 *   outside the new window are the caller's to drop.
 * - A future startAt makes the job PENDING again, anchored at startAt, as a start would.
 * - INTERVAL counts its new period from the job's last fire (or from its start when it has not fired yet): the next
 *   fire is everyMs after it, or at once when that time has passed already (a shorter period). A gap between two
 *   fires is thus never longer than the longer of the old and the new period.
 * - CRON fires at its next time after the change (and after the last fire handed over).
 * - MANUAL without a future startAt is not on the schedule: the job is STOPPED (it runs when triggered).
 */
import type { Schedule } from '@jobcenter/job-api';
import type { JobState } from '../domain/index.js';
import { parseInstant } from './schedule-input.js';

export interface Changeover {
  state: JobState;
  anchorAt: Date | null;
  /** Place the job at its first fire time strictly after this instant (ms). */
  afterMs: number;
}

/**
 * `anchorAt` is the job's current anchor (its start, or startAt); `lastFireMs` the latest fire time handed over for
 * it on this host (null when none since it was put on the schedule).
 */
export function changeover(schedule: Schedule, anchorAt: Date | null, lastFireMs: number | null, nowMs: number): Changeover {
  const zone = schedule.type === 'CRON' ? schedule.timezone : undefined;
  const startMs = schedule.startAt ? parseInstant(schedule.startAt, 'schedule.startAt', zone).getTime() : null;
  if (startMs !== null && startMs > nowMs) return { state: 'PENDING', anchorAt: new Date(startMs), afterMs: nowMs };
  if (schedule.type === 'MANUAL') return { state: 'STOPPED', anchorAt, afterMs: nowMs };
  const afterMs = Math.max(nowMs, lastFireMs ?? nowMs);
  if (schedule.type === 'CRON') return { state: 'ACTIVE', anchorAt, afterMs };
  // A job still PENDING until a moment ago has an anchor ahead of now: it counts from now, as a start now would.
  const since = lastFireMs ?? Math.min(anchorAt?.getTime() ?? nowMs, nowMs);
  if (since + schedule.everyMs > nowMs) return { state: 'ACTIVE', anchorAt: new Date(since), afterMs };
  // The new period has passed since the last fire already: it fires now, and every everyMs from now on.
  return { state: 'ACTIVE', anchorAt: new Date(nowMs), afterMs: nowMs - 1 };
}
