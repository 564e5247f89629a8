/** A run: one execution of a job, from its row written at the fire to its final status. */

export type RunStatus =
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'KILLED'
  | 'SKIPPED'
  | 'INTERRUPTED';
export type RunTrigger = 'SCHEDULE' | 'MANUAL' | 'RETRY' | 'RECOVERY';
export const RUN_TRIGGERS: readonly RunTrigger[] = ['SCHEDULE', 'MANUAL', 'RETRY', 'RECOVERY'];

export const FINAL_RUN_STATUSES: readonly RunStatus[] = [
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'KILLED',
  'SKIPPED',
  'INTERRUPTED',
];

export interface RunError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

export interface RunRecord {
  runId: string;
  jobId: number;
  projectId: number;
  bundleId: number | null;
  host: string;
  trigger: RunTrigger;
  status: RunStatus;
  /** The fire time this run belongs to (for MANUAL: when it was asked for). */
  scheduledAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  result: string | null;
  error: RunError | null;
  attempt: number;
  cpuMs: number | null;
  peakMemoryMb: number | null;
  /** Where the finished log sits: a file relative to the logs folder, the byte offset and length of this run's chunk. */
  logFile: string | null;
  logOffset: number | null;
  logLength: number | null;
  /** A retry waiting for its backoff: it starts no earlier than this (kept across a stop, run after the restart). */
  notBefore: Date | null;
  /** The run's own params (a manual trigger's, kept by its retries); null: the job's. */
  params: unknown;
}

/** The part of a run that changes when it starts or ends. */
export interface RunUpdate {
  runId: string;
  status: RunStatus;
  bundleId?: number | null;
  startedAt?: Date | null;
  endedAt?: Date | null;
  result?: string | null;
  error?: RunError | null;
  cpuMs?: number | null;
  peakMemoryMb?: number | null;
  logFile?: string | null;
  logOffset?: number | null;
  logLength?: number | null;
  /**
   * The run this update ends, as the host holds it: the store counts the end in the dashboard's rollups from these
   * facts instead of reading the row back (run-sink.ts). Not a column; an update without it costs the store a read.
   */
  run?: Pick<RunRecord, 'jobId' | 'projectId' | 'trigger' | 'scheduledAt' | 'startedAt'>;
}

/** A job's runs at a glance (the job list): how many in each status, and the latest one. */
export interface JobRunSummary {
  /** Only statuses with at least one run. */
  runCounts: Partial<Record<RunStatus, number>>;
  lastRun: Pick<RunRecord, 'runId' | 'status' | 'scheduledAt' | 'startedAt' | 'endedAt'> | null;
}
