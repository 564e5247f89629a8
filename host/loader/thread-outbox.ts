/**
 * Collects the messages for the other side of a thread boundary and sends them as ONE batch per macrotask
 * (flushed on setImmediate; with maxItems, in slices of that size): one postMessage and one structured clone for
 * a burst of runs instead of one each. Used on both sides of the thread executor's worker port.
 */
export interface OutboxOptions<T> {
  /** Posts one batch (throws like postMessage when an item cannot be cloned). */
  readonly send: (items: readonly T[]) => void;
  /** An item that could not be sent on its own: the owner fails whatever waits on it. */
  readonly onUnsendable: (item: T, err: unknown) => void;
  /** Send at once when this many items are waiting (default: only on the timer). */
  readonly maxItems?: number;
}

export class Outbox<T> {
  #items: T[] = [];
  #scheduled: NodeJS.Immediate | null = null;
  readonly #options: OutboxOptions<T>;

  constructor(options: OutboxOptions<T>) {
    this.#options = options;
  }

  push(item: T): void {
    if (this.#items.push(item) >= (this.#options.maxItems ?? Infinity)) this.flush();
    else this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Sends what is collected now (also called by the timer). */
  flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    const items = this.#items;
    if (items.length === 0) return;
    this.#items = [];
    try {
      this.#options.send(items);
    } catch {
      // One uncloneable value (a cache value, a result) must fail only what it belongs to, not the whole batch.
      for (const item of items) this.#sendAlone(item);
    }
  }

  /** Drops what is collected and not yet sent (the other side is gone). */
  discard(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    this.#items = [];
  }

  #sendAlone(item: T): void {
    try {
      this.#options.send([item]);
    } catch (err) {
      this.#options.onUnsendable(item, err);
    }
  }
}
