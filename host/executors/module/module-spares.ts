/**
 * Module workers started ahead of need: one blank worker (no bundle loaded, module-worker.ts) per memory limit in
 * use, so that a context that has to be replaced (its worker was blocked, crashed, ran out of memory or was killed)
 * or a new one does not wait for a worker thread to start. Starting a worker is most of a context's boot: ~100 ms on
 * an idle 2-core machine and over a second on a busy one, which is longer than an every-second SKIP job can wait
 * without losing a fire. A spare holds no project's code, so any context of that limit may adopt it; its heap limit
 * is fixed when it starts (resourceLimits), so spares are kept per limit.
 *
 * Cost: one idle worker thread per memory limit of a live module context (docs/decisions.md, "Spare module
 * workers"). A spare is started only after the context that took the last one has booted, so it never competes
 * with that boot, and the spare of a limit is dropped once no context of that limit has been left for LINGER_MS: a
 * version upload retires the only context of its limit before the new version's first run boots the next one, and
 * that boot should not start a worker either.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../../log/logger.js';
import { killGroupsOnExit } from '../shared/child-groups.js';
import { WorkerVitals } from '../shared/vitals.js';
import { startWorkerFile } from '../shared/worker-file.js';
import type { ModuleWorkerData } from './module-protocol.js';

/** How long the spare of a limit outlives the last context of that limit (an upload's new context adopts it). */
export const LINGER_MS = 30_000;

/** Claim slots of a context's vitals; runs beyond them cannot be handed back (they count as started). */
const CLAIM_SLOTS = 4096;

/** A started module worker and its vitals, not yet booted with a bundle. */
export interface BlankWorker {
  readonly worker: Worker;
  readonly vitals: WorkerVitals;
}

export function startBlankWorker(env: Readonly<Record<string, string>>, memoryLimitMb: number): BlankWorker {
  const vitals = new WorkerVitals(CLAIM_SLOTS);
  const worker = startWorkerFile(import.meta.url, 'module-worker', {
    workerData: { vitals: vitals.buffer } satisfies ModuleWorkerData,
    resourceLimits: { maxOldGenerationSizeMb: memoryLimitMb },
    env: { ...env },
    stdout: true,
    stderr: true,
  });
  killGroupsOnExit(worker);
  return { worker, vitals };
}

export interface SpareStats {
  readonly waiting: number;
  readonly adopted: number;
}

interface Spare extends BlankWorker {
  dead: boolean;
  readonly onGone: () => void;
  /** Set while no context of its limit lives: ends the spare when it fires (linger). */
  ending: NodeJS.Timeout | null;
}

export class SpareWorkers {
  readonly #spares = new Map<number, Spare>();
  readonly #env: Readonly<Record<string, string>>;
  readonly #logger: Logger;
  #closed = false;
  #adopted = 0;

  constructor(env: Readonly<Record<string, string>>, logger: Logger) {
    this.#env = env;
    this.#logger = logger;
  }

  /** A started worker of this limit: the spare when there is a live one, else one started now. */
  take(memoryLimitMb: number): BlankWorker {
    const spare = this.#spares.get(memoryLimitMb);
    if (spare) {
      this.#spares.delete(memoryLimitMb);
      clearTimeout(spare.ending ?? undefined);
    }
    if (!spare || spare.dead) return startBlankWorker(this.#env, memoryLimitMb);
    spare.worker.off('error', spare.onGone).off('exit', spare.onGone);
    this.#adopted++;
    return { worker: spare.worker, vitals: spare.vitals };
  }

  /** Starts a spare of this limit unless one is there. */
  prepare(memoryLimitMb: number): void {
    const waiting = this.#spares.get(memoryLimitMb);
    if (waiting) {
      clearTimeout(waiting.ending ?? undefined);
      waiting.ending = null;
    }
    if (this.#closed || waiting) return;
    const blank = startBlankWorker(this.#env, memoryLimitMb);
    const spare: Spare = {
      ...blank,
      dead: false,
      ending: null,
      onGone: () => {
        if (spare.dead) return;
        spare.dead = true;
        if (this.#spares.get(memoryLimitMb) === spare) this.#spares.delete(memoryLimitMb);
        this.#logger.warn('a spare module worker ended before it was used', { memoryLimitMb });
      },
    };
    // An 'error' with no listener would throw in the host; a spare that ends is dropped and made again on next need.
    blank.worker.on('error', spare.onGone).on('exit', spare.onGone);
    this.#spares.set(memoryLimitMb, spare);
  }

  /** No context of this limit is left: its spare ends in LINGER_MS, unless a context takes it or one is needed again. */
  linger(memoryLimitMb: number): void {
    const spare = this.#spares.get(memoryLimitMb);
    if (!spare || spare.ending) return;
    spare.ending = setTimeout(() => {
      if (this.#spares.get(memoryLimitMb) !== spare) return;
      this.#spares.delete(memoryLimitMb);
      void this.#end(spare);
    }, LINGER_MS);
    spare.ending.unref();
  }

  /** Ends every spare; none is made after. */
  async close(): Promise<void> {
    this.#closed = true;
    const spares = [...this.#spares.values()];
    this.#spares.clear();
    await Promise.all(spares.map((spare) => this.#end(spare)));
  }

  /** Spares waiting, and how many a context adopted so far (metrics, and tests). */
  stats(): SpareStats {
    return { waiting: this.#spares.size, adopted: this.#adopted };
  }

  async #end(spare: Spare): Promise<void> {
    clearTimeout(spare.ending ?? undefined);
    spare.dead = true;
    spare.worker.off('exit', spare.onGone);
    await spare.worker.terminate().catch(() => undefined);
  }
}
