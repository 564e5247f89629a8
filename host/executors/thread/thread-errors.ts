/**
 * How the thread executor tells a run that its worker ended under it. A worker runs many runs at once: when it dies,
 * the runs that had not started go to another worker, the run that caused it fails, and the other runs that had
 * started on it are lost (WORKER_RESTARTED, naming the culprit, or saying that it could not be told apart).
 * Errors are recognised by `code`.
 */
import type { SerializedError } from '../../errors/index.js';
import { UNREADABLE_CODES } from '../shared/wire-read.js';

export const LOST_RUN_CODES = {
  /** This run ignored its abort past the grace time; its worker was terminated to stop it. */
  killed: 'RUN_KILLED',
  /** Another run on the same worker ended the worker (or had to be stopped by terminating it): this run is interrupted. */
  restarted: 'WORKER_RESTARTED',
  /** Aborted while it waited for a free worker: it never started. */
  abortedQueued: 'RUN_ABORTED',
  closed: 'EXECUTOR_CLOSED',
  outOfMemory: 'ERR_WORKER_OUT_OF_MEMORY',
  exited: 'WORKER_EXITED',
  crashed: 'WORKER_CRASHED',
  unsendable: 'RUN_NOT_SENDABLE',
  unreadable: UNREADABLE_CODES.worker,
} as const;

/**
 * Why a worker ended. `culprit`: the run that caused it, as far as the worker's vitals tell (vitals.ts culpritOf);
 * null when several runs had started and none can be told apart.
 */
export type WorkerEnd =
  | { readonly kind: 'killed'; readonly runId: string }
  | { readonly kind: 'closed' }
  /** V8's heap limit (resourceLimits). */
  | { readonly kind: 'out-of-memory'; readonly memoryLimitMb: number; readonly detail: string; readonly culprit: string | null }
  /** The host's own check of heap plus external memory (Buffers) against the limit. */
  | { readonly kind: 'memory-limit'; readonly memoryLimitMb: number; readonly usedMb: number; readonly culprit: string | null }
  | { readonly kind: 'exited'; readonly exitCode: number; readonly culprit: string | null }
  | { readonly kind: 'crashed'; readonly error: SerializedError; readonly culprit: string | null }
  | { readonly kind: 'unreadable'; readonly why: string };

export type LostRunError = Error & { code: string };

function lost(code: string, message: string): LostRunError {
  return Object.assign(new Error(message), { code });
}

/**
 * The error of run `runId`, one of `inFlight` runs that had started on the worker when it ended. The run that caused
 * it fails with what it did; the others had nothing to do with it and are lost with WORKER_RESTARTED (the executor
 * reports them interrupted), naming the culprit, or saying it could not be told.
 */
export function lostRunError(end: WorkerEnd, runId: string, inFlight: number): LostRunError {
  switch (end.kind) {
    case 'killed':
      return end.runId === runId
        ? lost(LOST_RUN_CODES.killed, 'run did not stop after abort; its worker was terminated')
        : lost(LOST_RUN_CODES.restarted, `worker terminated because run ${end.runId} did not stop after its abort (a timeout or a kill)`);
    case 'closed':
      return lost(LOST_RUN_CODES.closed, 'the thread executor was closed while the run was in flight');
    case 'unreadable':
      // A message that could not be read may have held any run's result: none of them can be trusted to come.
      return lost(LOST_RUN_CODES.unreadable, `the worker sent a message the host could not read (${end.why}), so it was ended`);
    default:
      return end.culprit === runId ? lost(culpritCode(end), `job ${culpritDeed(end)}`) : neighbourError(end, inFlight);
  }
}

type CulpritEnd = Extract<WorkerEnd, { culprit: string | null }>;

function culpritCode(end: CulpritEnd): string {
  if (end.kind === 'exited') return LOST_RUN_CODES.exited;
  if (end.kind === 'crashed') return LOST_RUN_CODES.crashed;
  return LOST_RUN_CODES.outOfMemory;
}

/** What the culprit did, as "job <deed>" or "run <id> <deed>". */
function culpritDeed(end: CulpritEnd): string {
  switch (end.kind) {
    case 'out-of-memory':
      return `exceeded its memory limit of ${end.memoryLimitMb} MB (${end.detail})`;
    case 'memory-limit':
      return `exceeded its memory limit of ${end.memoryLimitMb} MB: the worker held ${end.usedMb} MB of heap and Buffers`;
    case 'exited':
      return `called process.exit(${end.exitCode})`;
    case 'crashed':
      return `threw outside its run and ended the worker: ${end.error.name}: ${end.error.message}`;
  }
}

function neighbourError(end: CulpritEnd, inFlight: number): LostRunError {
  if (end.culprit !== null) return lost(LOST_RUN_CODES.restarted, `worker terminated because run ${end.culprit} ${culpritDeed(end)}`);
  const deed = culpritDeed(end);
  return lost(LOST_RUN_CODES.restarted, `worker terminated because a run on it ${deed}; which of the ${inFlight} runs in flight on it did could not be told`);
}
