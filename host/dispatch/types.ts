/** What dispatch needs from its surroundings, as interfaces, so it can be tested without the rest of the host. */
import type { JobSpec, LogLevel } from '@jobcenter/job-api';
import type { Executor } from '../loader/executor.js';
import type { BundleRecord, JobKind, JobRecord, RunTrigger } from '../domain/index.js';

export interface LogIndex {
  file: string;
  offset: number;
  length: number;
}

export interface RunLogWriter {
  write(level: LogLevel, message: string, at?: Date): void;
  end(): Promise<LogIndex | null>;
}

export interface RunLogOpener {
  open(runId: string, startedAt: Date): RunLogWriter;
}

/** The code and config a run of a job uses, resolved at the moment it starts. */
export interface RunTarget {
  projectName: string;
  bundle: BundleRecord | null;
  config: Record<string, string>;
  /** The profile `config` was built with: the job's, or for a sub-job without a config file its resolver's. */
  profile: string | null;
}

export interface TargetResolver {
  /** Throws (with a message for the run's error) when the job cannot run: no bundle, missing config file… */
  resolve(job: JobRecord): Promise<RunTarget>;
}

export type Executors = Partial<Record<JobKind, Executor>>;

export interface FireRequest {
  job: JobRecord;
  trigger: RunTrigger;
  scheduledAt: Date;
  attempt?: number;
  /** For MANUAL runs: the params of this run only (default: the job's). */
  params?: unknown;
}

/** Turns a resolver run's specs into sub-jobs; returns e.g. "new:1, update:0, disable:2, enable:0". */
export type Reconciler = (resolver: JobRecord, specs: readonly JobSpec[], runId: string) => Promise<string>;

