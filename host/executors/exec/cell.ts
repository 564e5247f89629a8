/**
 * What an exec run is contained in (a cell) and what makes cells (a containment): the types the containments of
 * containment.ts and cgroup-containment.ts share.
 */
import type { ContainmentChoice } from '../../config/index.js';

export type ContainmentKind = Exclude<ContainmentChoice, 'auto'>;

/** What a run's cell knew when it was removed: figures of every process that was ever in it. */
export interface CellReport {
  readonly cpuMs?: number;
  readonly peakMemoryMb?: number;
  /** Processes of the run the kernel killed at its memory limit. */
  readonly oomKills: number;
}

/** One run's container. */
export interface RunCell {
  /** The argv that runs `command args` inside the cell. */
  wrap(command: string, args: readonly string[]): readonly [string, readonly string[]];
  /**
   * The cgroup.procs files a command started by the native spawner writes itself into before it execs, in place of
   * the wrapper ([] for none); null when the cell needs its wrapper (a PID namespace).
   */
  readonly joins: readonly string[] | null;
  /** Whether the job's memoryLimitMb is applied; whether end() reports CPU and peak memory. */
  readonly limitsMemory: boolean;
  readonly measuresCpu: boolean;
  readonly measuresMemory: boolean;
  /** A `signal` that ended the command is reported as an exit code by this cell (128 + n): the signal's name. */
  signalOfExitCode(code: number | null): NodeJS.Signals | null;
  /** Kills every process still in the cell, now (a kill after the grace, or close). */
  killAll(): void;
  /** After the command exited: kills what is left, waits until the cell is empty, reads its figures, removes it. */
  end(): Promise<CellReport>;
}

export interface Containment {
  readonly kind: ContainmentKind;
  /** One sentence each, for the startup log and docs/isolation.md. */
  readonly covers: string;
  readonly misses: string;
  /** Whether its cells apply a job's memoryLimitMb (a memory cgroup could be made on this machine). */
  readonly limitsMemory: boolean;
  /** A cell for one run; memoryLimitMb applies only where `limitsMemory`. Throws when the cell cannot be made. */
  enter(memoryLimitMb: number | null): RunCell;
  /** Removes what the containment made (after every run has ended). */
  close(): Promise<void>;
}
