/** What dispatch needs from its surroundings, as interfaces, so it can be tested without the rest of the host. */
import type { JobSpec, LogLevel } from '@jobcenter/job-api';
import type { HostConfig } from '../config/index.js';
import type { SerializedError } from '../errors/index.js';
import type { PathHider } from '../errors/server-paths.js';
import type { Executor } from '../executors/shared/executor.js';
import type { Logger } from '../log/logger.js';
import type { BundleRecord, JobKind, JobRecord, RunRecord, RunTrigger } from '../domain/index.js';
import type { Store } from '../store/types.js';
import type { BundleRuns } from './bundle-runs.js';
import type { IdleControllers } from './idle-controllers.js';

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


export interface DispatcherDeps {
  config: HostConfig;
  store: Store;
  executors: Executors;
  logs: RunLogOpener;
  targets: TargetResolver;
  /** Which runs use which bundle version, so a version is not deleted under them. */
  bundleRuns: BundleRuns;
  logger: Logger;
  /** Takes the host's folders out of a run's error before clients see it (errors/server-paths.ts). */
  hidePaths: PathHider;
  /** A resolver's run returned sub-job specs: reconcile them; the returned summary becomes the run's result. */
  reconcile?: Reconciler;
  /** Idle AbortControllers the runs' signals are taken from (the dispatcher makes its own when none is given). */
  controllers?: IdleControllers;
}

/** `unscheduled`: the job left the schedule (stopped, changed, deleted) just as a run planned for it started. */
export type AbortReason = 'kill' | 'timeout' | 'shutdown' | 'unscheduled';

/** A run that has started, as kill and shutdown see it. */
export interface ActiveRun {
  runId: string;
  jobId: number;
  abort(reason: AbortReason): void;
}

/** How the run ended, for the retry decision. */
export interface RunEnd {
  status: RunRecord['status'];
  error: SerializedError | null;
  /** Settles once the final row is committed (failures are logged, never thrown). */
  written: Promise<void>;
}

/**
 * A run whose code is resolved and handed to its executor ahead of its start: what is left for `start` is to
 * open the gate (thread runs: one message item to a worker), which keeps a burst of planned fires cheap at their
 * fire time.
 */
export interface PreparedRun {
  /** Starts the run now; resolves once its final row is queued. */
  start(register: (run: ActiveRun) => void): Promise<RunEnd>;
  /**
   * Calls the run off. Resolves with null when it never started: the executor let go of what it prepared and nothing
   * was written. A run its executor had already started on its own (a planned ALLOW run handed over ahead of its
   * time) is aborted for `reason` instead and ends like any run, with its final row: its end is returned.
   */
  cancel(reason?: AbortReason): Promise<RunEnd | null>;
}

declare const committed: unique symbol;
declare const writesFirst: unique symbol;

/**
 * A run row the database has committed. Only `RunRows` (run-rows.ts) makes one: `insert`, once the insert is
 * committed, and `stored`, for a row read back from the database. This is where "a run's row is committed before
 * the run starts" is enforced: a run starts only on one, at admission.ts `start` (the gate opens), or at its
 * `startAt` by its executor's own timer, which only a run prepared on a committed row has (run-life.ts `prepareRun`).
 */
export type CommittedRow = RunRecord & { readonly [committed]: true };

/**
 * The row of a WAIT fire queued while its insert is in the run writer: its run may get its turn before that insert
 * is committed. Such a run goes only once its RUNNING write is committed (run-life.ts `start`, a row without
 * startedAt), and the writer commits a run's writes in order (store/run-writer.ts), so the insert is committed then.
 */
export type QueuedRow = RunRecord & { readonly startedAt: null; readonly [writesFirst]: true };
