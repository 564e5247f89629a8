/**
 * The one interface every executor shares (thread, isolate, module, exec). Dispatch builds a RunRequest, calls
 * execute(), and never knows which executor ran it. Below it, the outcomes every kind builds alike.
 */
import type { JobSpec, LogLevel } from '@jobcenter/job-api';
import type { SerializedError } from '../../errors/index.js';
import type { JobKind } from '../../domain/index.js';

export interface RunRequest {
  readonly runId: string;
  readonly job: { readonly id: number; readonly name: string; readonly project: string; readonly projectId: number };
  readonly kind: JobKind;
  /** Export name (thread/isolate), bean name (module), argv (exec). */
  readonly entry: string | readonly string[];
  readonly params: unknown;
  readonly config: Readonly<Record<string, string>>;
  /** The profile the job's config was built with (module: its context's config is overlaid with it too). */
  readonly profile?: string | null;
  readonly scheduledAt: Date;
  readonly attempt: number;
  readonly fencingToken: string;
  /** Thread/isolate/module: heap limit of the worker or isolate. */
  readonly memoryLimitMb: number | null;
  /** exec: run argv[0] through /bin/sh -c. */
  readonly shell: boolean;
  /** The bundle version the run uses; null only for exec jobs without a bundle. */
  readonly bundle: { readonly id: number; readonly dir: string; readonly main: string | null } | null;
  /** What the job is granted beyond its JobContext (isolate: a host-performed fetch, any host or these hosts). */
  readonly grants?: { readonly fetch?: boolean | readonly string[] } | null;
  /** The run's wall-clock limit (dispatch enforces it through hooks.signal); isolate uses it as its CPU budget. */
  readonly timeoutMs?: number | null;
}

/** The job's cache as seen by an executor (already bound to the job). */
export interface RunCache {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface RunHooks {
  /** One line of the run's log (job logger, console, stdout/stderr). */
  log(level: LogLevel, message: string): void;
  readonly cache: RunCache;
  /**
   * Aborted by dispatch on kill, timeout or shutdown. The executor must then end the run promptly: tell the job
   * (its ctx.signal), and after `killGraceMs` terminate it (worker terminate, process-group SIGKILL).
   */
  readonly signal: AbortSignal;
  /** Called once when the job's own code starts (first line): the fire-lag measurement point. */
  started?(at: number): void;
  /**
   * Only for an executor that `prepares`: it does its own preparation at once, then starts the run from the gate's
   * callback (synchronously, so a burst of opened gates reaches the workers while it is still being opened); when
   * hooks.signal is aborted by then, the run is not started at all (an aborted outcome).
   */
  readonly gate?: RunGate;
}

/** Opened once; a callback registered after that runs at once. */
export interface RunGate {
  onOpen(callback: () => void): void;
  /**
   * Set when dispatch already knows the run will start at this instant (epoch ms; a planned fire of a job whose
   * concurrency is ALLOW): an executor that can hold a run until a given time may hand it over now instead of at
   * the gate. hooks.signal still tells it when the run is called off before then.
   */
  readonly startAt?: number;
}

/**
 * What a run used, as its executor measured it (docs/statuses.md, "Resources", says what each kind's figures mean).
 * A figure is absent when it cannot be known: the run never started, or what it ran in is gone without telling.
 */
export interface RunUsage {
  /** CPU time in milliseconds. */
  readonly cpuMs?: number;
  /** The largest memory seen in use, in MiB (2^20 bytes). */
  readonly peakMemoryMb?: number;
}

export type RunOutcome = (
  | {
      readonly ok: true;
      readonly result: string | null;
      /** A resolver's run: the sub-jobs it wants (dispatch reconciles them and sets the result). */
      readonly specs?: readonly JobSpec[];
    }
  | {
      readonly ok: false;
      readonly error: SerializedError;
      /** True when the run ended because hooks.signal was aborted (dispatch knows why). */
      readonly aborted: boolean;
      /**
       * True when the run was lost through no fault of its own: its worker was ended because of another run (the
       * error names that run). Dispatch records it INTERRUPTED, and the job's onInterrupt applies.
       */
      readonly interrupted?: boolean;
    }
) &
  RunUsage;

export interface Executor {
  /** Takes hooks.gate: prepares a run ahead of its start (planned fires), so the start itself is cheap. */
  readonly prepares?: boolean;
  /**
   * Sends at once what runs started so far have queued for their workers. Dispatch calls it after opening the gates
   * of a group of fires, so the last slice of a burst does not wait for the end of the macrotask.
   */
  flush?(): void;
  /** Never rejects: every failure is an outcome. */
  execute(request: RunRequest, hooks: RunHooks): Promise<RunOutcome>;
  /** Drop loaded code of a project that is not this bundle version (after a new upload or a delete). */
  retire(projectId: number, keepBundleId: number | null): Promise<void>;
  /** Terminates everything; in-flight runs end with aborted outcomes. */
  close(): Promise<void>;
}

/** A run that failed (`aborted`: it failed after hooks.signal was aborted). */
export function failure(error: SerializedError, aborted = false): RunOutcome {
  return { ok: false, error, aborted };
}

/** Lost because of another run (the error names it): dispatch records it INTERRUPTED. */
export function interruptedOutcome(error: SerializedError): RunOutcome {
  return { ok: false, error, aborted: false, interrupted: true };
}

export function abortedOutcome(message: string): RunOutcome {
  return { ok: false, error: { name: 'AbortError', message }, aborted: true };
}
