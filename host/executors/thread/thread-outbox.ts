/**
 * Collects the items for the other side of a thread boundary, each already JSON text, and sends them as ONE text per
 * macrotask (flushed on setImmediate; with maxItems, in slices of that size): one postMessage for a burst of runs
 * instead of one each. Used on both sides of the thread executor's worker port.
 *
 * Items are made JSON when they are pushed, so what cannot be sent fails the call that made it (a job's cache.set)
 * and never a batch. The batch is built by string concatenation with timers taken at load (worker-primordials.ts):
 * in a worker, job code that changes Array.prototype or the timer globals does not reach it.
 */
import { OUTBOX_FLUSH_CHARS } from '../shared/wire-limits.js';
import { clearImmediateSafe, setImmediateSafe } from '../shared/worker-primordials.js';

export class Outbox {
  #text = '';
  #count = 0;
  #scheduled: NodeJS.Immediate | null = null;
  readonly #send: (json: string) => void;
  readonly #maxItems: number;
  readonly #beforeFlush: (() => void) | null;

  /**
   * `send` posts one batch: the items as a JSON array. `maxItems`: send at once when this many are waiting.
   * `beforeFlush` may push the items that are made only as a batch leaves (a worker's results, measured then).
   */
  constructor(send: (json: string) => void, maxItems = Infinity, beforeFlush?: () => void) {
    this.#send = send;
    this.#maxItems = maxItems;
    this.#beforeFlush = beforeFlush ?? null;
  }

  push(itemJson: string): void {
    this.#text = this.#count === 0 ? itemJson : `${this.#text},${itemJson}`;
    // Past OUTBOX_FLUSH_CHARS the batch leaves at once, so no batch grows past what the other side reads (wire-limits.ts).
    if (++this.#count >= this.#maxItems || this.#text.length > OUTBOX_FLUSH_CHARS) this.flush();
    else this.#scheduled ??= setImmediateSafe(() => this.flush());
  }

  /** A batch will leave at the end of this macrotask, whether or not an item is pushed before (see beforeFlush). */
  touch(): void {
    this.#scheduled ??= setImmediateSafe(() => this.flush());
  }

  /** Sends what is collected now (also called by the timer). */
  flush(): void {
    this.#beforeFlush?.();
    if (this.#scheduled) clearImmediateSafe(this.#scheduled);
    this.#scheduled = null;
    if (this.#count === 0) return;
    const json = `[${this.#text}]`;
    this.discard();
    this.#send(json);
  }

  /** Drops what is collected and not yet sent (the other side is gone). */
  discard(): void {
    if (this.#scheduled) clearImmediateSafe(this.#scheduled);
    this.#scheduled = null;
    this.#text = '';
    this.#count = 0;
  }
}
