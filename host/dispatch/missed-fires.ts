/**
 * Scheduled fires that got no row because of the database: it did not answer, or it was so far behind that another
 * row would only deepen the backlog. Each is counted here by job, with its fire time, so that when the database
 * takes rows again the engine runs them under the job's misfire policy (as a restart does with the fires it missed)
 * or counts them as missed. Nothing is dropped silently.
 */
import type { Misfire } from '../domain/index.js';

/**
 * The most missed fire times a job's `fireAll` runs, after an outage or a restart (recovery); the times kept per job
 * here (fires past it are still counted).
 */
export const FIRE_ALL_LIMIT = 1_000;

export interface MissedOfJob {
  /** Fires of the job that got no row. */
  count: number;
  /** Their fire times, oldest first, up to FIRE_ALL_LIMIT. */
  times: Date[];
}

export class MissedFires {
  #byJob = new Map<number, MissedOfJob>();
  /** Fires handed back to the schedule as catch-up runs, and fires counted as missed, since the start. */
  caughtUp = 0;
  missed = 0;
  /** Told when a fire is noted while none was (the catch-up wakes for it, and sleeps while nothing is noted). */
  onFirstNoted: (() => void) | null = null;

  note(jobId: number, fireAt: Date): void {
    const entry = this.#byJob.get(jobId);
    if (!entry) {
      this.#byJob.set(jobId, { count: 1, times: [fireAt] });
      if (this.#byJob.size === 1) this.onFirstNoted?.();
    } else {
      entry.count++;
      if (entry.times.length < FIRE_ALL_LIMIT) entry.times.push(fireAt);
    }
  }

  /** Jobs with fires noted. */
  get size(): number {
    return this.#byJob.size;
  }

  /** Fires noted and not taken yet. */
  get pending(): number {
    let n = 0;
    for (const entry of this.#byJob.values()) n += entry.count;
    return n;
  }

  /** Everything noted so far, by job; the list starts again empty. */
  take(): Map<number, MissedOfJob> {
    const taken = this.#byJob;
    this.#byJob = new Map();
    return taken;
  }

  /** Puts back what could not be handled (the database went away again). */
  restore(taken: Map<number, MissedOfJob>): void {
    for (const [jobId, entry] of taken) {
      for (const fireAt of entry.times) this.note(jobId, fireAt);
      const now = this.#byJob.get(jobId)!;
      now.count += entry.count - entry.times.length;
    }
  }
}

/** The fire times a job's misfire policy runs of those it missed: the first (fireOnce), all kept (fireAll), none (skip). */
export function catchUpTimes(policy: Misfire, missed: MissedOfJob): Date[] {
  if (policy === 'skip') return [];
  return policy === 'fireAll' ? missed.times : missed.times.slice(0, 1);
}
