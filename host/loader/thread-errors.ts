/**
 * How the thread executor tells a run that its worker ended under it. A worker runs many runs at once, so when it
 * dies every run in flight on it is lost; where the run that caused it cannot be told apart the message says
 * "a run on this worker …". Errors are recognised by `code`.
 */
import type { SerializedError } from '../errors/index.js';
import { UNREADABLE_CODES } from './wire-read.js';

export const LOST_RUN_CODES = {
  /** This run ignored its abort past the grace time; its worker was terminated to stop it. */
  killed: 'RUN_KILLED',
  /** Another run on the same worker had to be stopped by terminating the worker. */
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

/** Why a worker ended. */
export type WorkerEnd =
  | { readonly kind: 'killed'; readonly runId: string }
  | { readonly kind: 'closed' }
  | { readonly kind: 'out-of-memory'; readonly memoryLimitMb: number; readonly detail: string }
  | { readonly kind: 'exited'; readonly exitCode: number }
  | { readonly kind: 'crashed'; readonly error: SerializedError }
  | { readonly kind: 'unreadable'; readonly why: string };

export type LostRunError = Error & { code: string };

function lost(code: string, message: string): LostRunError {
  return Object.assign(new Error(message), { code });
}

/** The error of run `runId`, one of `inFlight` runs on the worker when it ended. */
export function lostRunError(end: WorkerEnd, runId: string, inFlight: number): LostRunError {
  const alone = inFlight === 1;
  const culprit = alone ? 'job' : 'a run on this worker';
  const tail = alone ? '' : `; run ${runId} was in flight on the same worker and was lost`;
  switch (end.kind) {
    case 'killed':
      return end.runId === runId
        ? lost(LOST_RUN_CODES.killed, 'run did not stop after abort; its worker was terminated')
        : lost(LOST_RUN_CODES.restarted, `worker restarted because run ${end.runId} had to be stopped`);
    case 'closed':
      return lost(LOST_RUN_CODES.closed, 'the thread executor was closed while the run was in flight');
    case 'out-of-memory':
      return lost(LOST_RUN_CODES.outOfMemory, `${culprit} exceeded the memory limit of ${end.memoryLimitMb} MB (${end.detail})${tail}`);
    case 'exited':
      return lost(LOST_RUN_CODES.exited, `${culprit} called process.exit(${end.exitCode})${tail}`);
    case 'crashed':
      return lost(LOST_RUN_CODES.crashed, `${culprit} threw outside its run and ended the worker: ${end.error.name}: ${end.error.message}${tail}`);
    case 'unreadable':
      // A message that could not be read may have held any run's result: none of them can be trusted to come.
      return lost(LOST_RUN_CODES.unreadable, `the worker sent a message the host could not read (${end.why}), so it was ended${tail}`);
  }
}
