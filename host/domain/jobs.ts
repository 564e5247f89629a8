/** A job: what runs (kind, entry, params, config), when (schedule) and how (concurrency, timeout, retries). */
import type { Concurrency, Schedule } from '@jobcenter/job-api';

export type { Concurrency, Schedule };

export type JobKind = 'thread' | 'module' | 'isolate' | 'exec';
export type JobState = 'STOPPED' | 'ACTIVE' | 'PENDING';
export type Misfire = 'fireOnce' | 'skip' | 'fireAll';
export type OnInterrupt = 'none' | 'rerun';

export interface RetryPolicy {
  count: number;
  backoff: { type: 'fixed' | 'exponential'; delayMs: number; maxDelayMs?: number };
}

export interface JobGrants {
  /** isolate jobs: a global fetch() performed by the host; true for any URL, or a list of allowed hostnames. */
  fetch?: boolean | string[];
}

export interface JobRecord {
  id: number;
  projectId: number;
  name: string;
  kind: JobKind;
  /** Export name (thread/isolate), bean name (module) or argv (exec). */
  entry: string | string[];
  params: unknown;
  configFile: string | null;
  profile: string | null;
  config: Record<string, string>;
  schedule: Schedule;
  concurrency: Concurrency;
  /** WAIT: how many runs may queue behind the running one. */
  maxQueue: number;
  timeoutMs: number | null;
  memoryLimitMb: number | null;
  misfire: Misfire;
  onInterrupt: OnInterrupt;
  /** exec only: run through /bin/sh -c. */
  shell: boolean;
  state: JobState;
  /** INTERVAL phase: fires fall on anchorAt + k × everyMs (set when the job starts, kept across restarts). */
  anchorAt: Date | null;
  resolverId: number | null;
  /** Sub-jobs: the resolver's fingerprint of the spec; a change forces an update and restart. */
  identifierCode: string | null;
  /** What the job is granted beyond its JobContext (isolate: a fetch the host performs). */
  grants: JobGrants | null;
  /** Failed or timed-out runs are run again (trigger RETRY) up to count times, after the backoff delay. */
  retries: RetryPolicy | null;
  disabled: boolean;
  ownerId: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The part of a job the scheduler and a start-up's missed-fire check read. */
export type JobSchedule = Pick<JobRecord, 'id' | 'projectId' | 'state' | 'schedule' | 'anchorAt' | 'misfire'>;

/** The bounds of an INTERVAL schedule's everyMs: one second to 31 days. */
export const MIN_INTERVAL_MS = 1000;
export const MAX_INTERVAL_MS = 31 * 24 * 60 * 60 * 1000;
