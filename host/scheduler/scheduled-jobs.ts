/**
 * What the engine remembers of the jobs on the schedule. 100,000 full job records do not stay in memory: each
 * scheduled job keeps a small entry, the records of the most recently used few thousand are cached, and the others
 * are loaded in one query when their fires are handed over to dispatch (the scheduler's lead time ahead).
 *
 * At launch dispatch asks for the job again (`current`): it gets the very record its fire was planned with, unless
 * the job changed since (then its new definition) or left the schedule (then nothing).
 */
import type { JobRecord, JobState } from '../domain/index.js';
import { LruMap } from './lru.js';
import type { SchedulerFire } from './scheduler.js';

export interface ScheduledJobsOptions {
  /** The records of these jobs as stored now; ids that no longer exist are left out. */
  load(ids: number[]): Promise<JobRecord[]>;
  /** How long after a handover its fires may still launch: the lead time, the row write and a wide margin. */
  pinMs: number;
  /**
   * How many full records stay cached (default 32,768, ~0.8 KB each). Jobs fire in a cycle, the worst case of a
   * least-recently-used cache: one smaller than the jobs that fire often misses on every fire.
   */
  maxCached?: number;
  /** Clock in epoch ms (tests). Defaults to Date.now. */
  now?: () => number;
}

/** Fires with the records to plan them with, and what dispatch asks at launch. */
export interface Handover {
  fires: { job: JobRecord; fireAt: Date }[];
  current(jobId: number): JobRecord | undefined;
}

interface Entry {
  projectId: number;
  /** PENDING until its first fire, ACTIVE after (a flag: a state string read from each row is 24 bytes a job). */
  pending: boolean;
  /** New with every definition given to set(): a fire planned with an older one launches with the newer. */
  version: number;
  /** When a fire of the job was last handed over (ms; 0: never). */
  handedAt: number;
  /** The latest fire time handed over (ms; 0: none since the job was put on the list). */
  lastFireAt: number;
}

interface Held {
  job: JobRecord;
  version: number;
}

export class ScheduledJobs {
  private readonly entries = new Map<number, Entry>();
  private readonly cached: LruMap<number, JobRecord>;
  /**
   * New definitions set while a fire handed over before may not have launched yet. The cache alone could evict
   * them first, and that launch would then have nothing newer than the record it was planned with. Oldest first.
   */
  private readonly changed = new Map<number, { job: JobRecord; at: number }>();
  private readonly now: () => number;
  private version = 0;

  constructor(private readonly options: ScheduledJobsOptions) {
    this.cached = new LruMap(options.maxCached ?? 32_768);
    this.now = options.now ?? Date.now;
  }

  /**
   * Puts the job on the list, or gives it a new definition. `record` is what its next fires are planned with; null
   * (a start-up, which reads only what scheduling needs) loads it at its first fire, so it must not be given for a
   * job whose fires are already handed over.
   */
  set(job: Pick<JobRecord, 'id' | 'projectId' | 'state'>, record: JobRecord | null): void {
    const now = this.now();
    const { handedAt = 0, lastFireAt = 0 } = this.entries.get(job.id) ?? {};
    this.entries.set(job.id, { projectId: job.projectId, pending: job.state === 'PENDING', version: ++this.version, handedAt, lastFireAt });
    this.changed.delete(job.id);
    if (!record) {
      this.cached.delete(job.id);
      return;
    }
    this.cached.set(job.id, record);
    if (handedAt > 0 && now - handedAt < this.options.pinMs) this.changed.set(job.id, { job: record, at: now });
    this.unpinExpired(now);
  }

  /** Takes the job off the list: a fire of it planned before launches with nothing (its row is dropped). */
  delete(jobId: number): boolean {
    this.cached.delete(jobId);
    this.changed.delete(jobId);
    return this.entries.delete(jobId);
  }

  has(jobId: number): boolean {
    return this.entries.has(jobId);
  }

  /** `version` changes whenever the job gets a new definition or leaves the list and comes back. */
  get(jobId: number): { id: number; projectId: number; state: JobState; version: number } | undefined {
    const entry = this.entries.get(jobId);
    return entry ? { id: jobId, projectId: entry.projectId, state: entry.pending ? 'PENDING' : 'ACTIVE', version: entry.version } : undefined;
  }

  /** The latest fire time handed over for the job, or null. */
  lastFireOf(jobId: number): number | null {
    return this.entries.get(jobId)?.lastFireAt || null;
  }

  /** A PENDING job's first fire makes it ACTIVE; true when it was PENDING. */
  activate(jobId: number): boolean {
    const entry = this.entries.get(jobId);
    if (!entry?.pending) return false;
    entry.pending = false;
    const job = this.newest(jobId);
    if (job) job.state = 'ACTIVE';
    return true;
  }

  /** The records of these fires (those of jobs still on the list), with one load for those not in memory. */
  async handOver(fires: SchedulerFire[]): Promise<Handover> {
    const now = this.now();
    const held = new Map<number, Held>();
    const missing = new Map<number, number>();
    for (const { jobId, fireAt } of fires) {
      const entry = this.entries.get(jobId);
      if (!entry) continue;
      entry.lastFireAt = Math.max(entry.lastFireAt, fireAt.getTime());
      if (held.has(jobId) || missing.has(jobId)) continue;
      entry.handedAt = now;
      const job = this.newest(jobId);
      if (job) held.set(jobId, { job, version: entry.version });
      else missing.set(jobId, entry.version);
    }
    this.unpinExpired(now);
    if (missing.size > 0) await this.load(missing, held);
    const planned: Handover['fires'] = [];
    for (const { jobId, fireAt } of fires) {
      const job = this.entries.has(jobId) ? held.get(jobId)?.job : undefined;
      if (job) planned.push({ job, fireAt });
    }
    return { fires: planned, current: (jobId) => this.current(jobId, held) };
  }

  get size(): number {
    return this.entries.size;
  }

  get cachedCount(): number {
    return this.cached.size;
  }

  private async load(missing: Map<number, number>, held: Map<number, Held>): Promise<void> {
    for (const job of await this.options.load([...missing.keys()])) {
      const entry = this.entries.get(job.id);
      if (!entry) continue;
      if (entry.version === missing.get(job.id)) {
        // The entry knows best: the write of a PENDING job's activation may not have landed yet.
        job.state = entry.pending ? 'PENDING' : 'ACTIVE';
        this.cached.set(job.id, job);
        held.set(job.id, { job, version: entry.version });
      } else {
        // Changed while it loaded: set() got the newer definition.
        const newer = this.newest(job.id);
        if (newer) held.set(job.id, { job: newer, version: entry.version });
      }
    }
  }

  private current(jobId: number, held: Map<number, Held>): JobRecord | undefined {
    const entry = this.entries.get(jobId);
    const mine = held.get(jobId);
    if (!entry || !mine) return undefined;
    if (mine.version === entry.version) return mine.job;
    // Only a launch later than pinMs after its handover finds the newer definition evicted: it keeps its own.
    return this.newest(jobId) ?? mine.job;
  }

  private newest(jobId: number): JobRecord | undefined {
    return this.changed.get(jobId)?.job ?? this.cached.get(jobId);
  }

  private unpinExpired(now: number): void {
    for (const [jobId, { at }] of this.changed) {
      if (now - at < this.options.pinMs) return;
      this.changed.delete(jobId);
    }
  }
}
