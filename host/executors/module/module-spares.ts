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
 * with that boot, and the spares of a limit are dropped once no context of that limit is left.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../../log/logger.js';
import { killGroupsOnExit } from '../shared/child-groups.js';
import { WorkerVitals } from '../shared/vitals.js';
import { startWorkerFile } from '../shared/worker-file.js';
import type { ModuleWorkerData } from './module-protocol.js';

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
    if (spare) this.#spares.delete(memoryLimitMb);
    if (!spare || spare.dead) return startBlankWorker(this.#env, memoryLimitMb);
    spare.worker.off('error', spare.onGone).off('exit', spare.onGone);
    this.#adopted++;
    return { worker: spare.worker, vitals: spare.vitals };
  }

  /** Starts a spare of this limit unless one is there. */
  prepare(memoryLimitMb: number): void {
    if (this.#closed || this.#spares.has(memoryLimitMb)) return;
    const blank = startBlankWorker(this.#env, memoryLimitMb);
    const spare: Spare = {
      ...blank,
      dead: false,
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

  /** Ends the spare of this limit (no context of that limit is left). */
  drop(memoryLimitMb: number): Promise<void> {
    const spare = this.#spares.get(memoryLimitMb);
    if (!spare) return Promise.resolve();
    this.#spares.delete(memoryLimitMb);
    return this.#end(spare);
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
    spare.dead = true;
    spare.worker.off('exit', spare.onGone);
    await spare.worker.terminate().catch(() => undefined);
  }
}
