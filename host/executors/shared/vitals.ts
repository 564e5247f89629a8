/**
 * The vitals of a worker thread, as the host reads them: a few words of shared memory (a SharedArrayBuffer) that
 * the worker writes and the host reads without a message, so they are readable while the worker's event loop is
 * blocked, and after it died. The worker's side is worker-vitals.ts; docs/decisions.md ("Blocked and oversized
 * workers") says what it costs.
 *
 * - Heartbeat: a counter the worker bumps on a timer while a run runs on it, at each run's end, and on each message it
 *   receives (a flood of messages starves a worker's timers, containment-notes §1.1). A worker holding runs that are
 *   due (not waiting for their start time) whose counter has not moved for BLOCKED_MS is blocked: its event loop is
 *   stuck in someone's synchronous code.
 * - Memory: the worker's V8 heap in use plus its external memory (Buffers, ArrayBuffers), which `resourceLimits`
 *   does not count (containment-notes §1.3), written with each heartbeat and each batch it sends.
 * - Current: the run whose synchronous code the worker is in (the start of a run up to its first await), so a
 *   worker that blocks or dies there names its culprit.
 * - Claims: one word per run handed to the worker. The host writes the run's sequence number; the worker claims it
 *   (compare-and-swap to its negative) just before the run starts; the host takes back a run that was not claimed
 *   (compare-and-swap to 0). Exactly one side wins, so a run taken back never starts there, and a run that had
 *   started is known to have started even when the worker is gone.
 *
 * The buffer reaches the worker in its workerData, which the worker's bootstrap reads and deletes before any job
 * code loads, so job code cannot find it (containment-notes §1.1).
 */

/** Word offsets in the vitals buffer (an Int32Array). */
export const VITALS_WORDS = { beat: 0, memoryKib: 1, current: 2, claims: 4 } as const;
/** The worker's heartbeat period while a run runs on it (worker-vitals.ts: no timer while none runs). */
export const BEAT_MS = 20;
/** A worker holding runs whose heartbeat has not moved for this long is blocked. */
export const BLOCKED_MS = 400;
/** How often a pool or a module context reads its workers' vitals while they hold runs (a pool: runs that are due). */
export const WATCH_MS = 50;
/**
 * A read this long after the one before means the host itself was held up (its watch timer is due every WATCH_MS): a
 * silence measured across it is not counted, since the host cannot tell a blocked worker from its own stall. The
 * clock starts again from that read.
 */
export const LATE_MS = BLOCKED_MS / 2;
/** A run handed back from a blocked or ended worker is placed again at most this many times. */
export const MAX_MOVES = 3;

const { load, store, compareExchange } = Atomics;

/** No slot: the run cannot be taken back (treated as started). */
export const NO_SLOT = -1;

export class WorkerVitals {
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  /** The sequence number of the run in each slot (0: free). */
  readonly #seqs: Int32Array;
  readonly #free: number[] = [];
  /** Per slot: MiB the memory figure grew by, seen between two reads while that slot's run was the only one started. */
  readonly #grownMb: Float64Array;
  /** The memory figure at the last noteMemory(), or when the worker last held no runs (rest). */
  #seenMb = 0;
  #seq = 0;
  #beat = 0;
  #beatAt = 0;
  /** When the host last read the heartbeat (stalledFor, rest). */
  #readAt = 0;

  constructor(slots: number) {
    this.buffer = new SharedArrayBuffer((VITALS_WORDS.claims + slots) * 4);
    this.#words = new Int32Array(this.buffer);
    this.#seqs = new Int32Array(slots);
    this.#grownMb = new Float64Array(slots);
    for (let slot = slots - 1; slot >= 0; slot--) this.#free.push(slot);
  }

  /** A slot for a run about to be sent (NO_SLOT when all are taken); the worker claims it with slot and seqOf(slot). */
  assign(): number {
    const slot = this.#free.pop();
    if (slot === undefined) return NO_SLOT;
    // Sequence numbers stay positive int32s: a stale start item of a slot's earlier run can never match a later one.
    this.#seq = this.#seq >= 0x7fffffff ? 1 : this.#seq + 1;
    this.#seqs[slot] = this.#seq;
    this.#grownMb[slot] = 0;
    store(this.#words, VITALS_WORDS.claims + slot, this.#seq);
    return slot;
  }

  seqOf(slot: number): number {
    return slot === NO_SLOT ? 0 : this.#seqs[slot]!;
  }

  /** The run in `slot` ended (its result came, or it was lost with its worker). */
  release(slot: number): void {
    if (slot === NO_SLOT || this.#seqs[slot] === 0) return;
    this.#seqs[slot] = 0;
    store(this.#words, VITALS_WORDS.claims + slot, 0);
    this.#free.push(slot);
  }

  /** Takes back the run in `slot` if the worker has not claimed it: true when it never started there (nor will). */
  revoke(slot: number): boolean {
    if (slot === NO_SLOT) return false;
    const seq = this.#seqs[slot]!;
    if (seq === 0 || compareExchange(this.#words, VITALS_WORDS.claims + slot, seq, 0) !== seq) return false;
    this.#seqs[slot] = 0;
    this.#free.push(slot);
    return true;
  }

  /**
   * How long the heartbeat has not moved, as seen by the reads of this method (the first read starts the clock, and so
   * does a read LATE_MS or more after the one before).
   */
  stalledFor(now: number): number {
    const beat = load(this.#words, VITALS_WORDS.beat);
    if (beat !== this.#beat || now - this.#readAt >= LATE_MS) {
      this.#beat = beat;
      this.#beatAt = now;
    }
    this.#readAt = now;
    return now - this.#beatAt;
  }

  /**
   * The worker holds no runs, or only runs waiting for their start time: its heartbeat may stop, and the clock starts
   * again from now.
   */
  rest(now: number): void {
    this.#beat = load(this.#words, VITALS_WORDS.beat);
    this.#beatAt = now;
    this.#readAt = now;
    this.#seenMb = this.memoryMb;
  }

  /**
   * Reads the memory figure as memoryMb does, and books its growth since the last read to the run that was the only
   * one started on the worker, if one was: that growth can only be its doing (or a leftover's), so a worker over its
   * memory limit can name its culprit while its runs overlap (culpritOf). The host calls it at each watch, not per
   * batch: it looks at every slot.
   */
  noteMemory(): number {
    const mb = this.memoryMb;
    const grown = mb - this.#seenMb;
    this.#seenMb = mb;
    if (grown <= 0) return mb;
    let only = NO_SLOT;
    for (let slot = 0; slot < this.#seqs.length; slot++) {
      const seq = this.#seqs[slot]!;
      if (seq === 0 || load(this.#words, VITALS_WORDS.claims + slot) !== -seq) continue;
      if (only !== NO_SLOT) return mb;
      only = slot;
    }
    if (only !== NO_SLOT) this.#grownMb[only] += grown;
    return mb;
  }

  /** MiB the memory figure grew by while the run in `slot` was the only one started (noteMemory). */
  grownMbOf(slot: number): number {
    return slot === NO_SLOT ? 0 : this.#grownMb[slot]!;
  }

  /** The worker's heap in use plus its external memory, in MiB, as it last wrote it. */
  get memoryMb(): number {
    return load(this.#words, VITALS_WORDS.memoryKib) / 1024;
  }

  /** The slot of the run whose synchronous code the worker is in, or NO_SLOT. */
  get current(): number {
    return load(this.#words, VITALS_WORDS.current) - 1;
  }
}

/**
 * Which run made a worker end, among the runs that had started on it: the run whose synchronous code it was in,
 * else the only run that had started; for a worker over its memory limit (`memoryLimitMb` given), else the run that
 * alone grew its memory by half the limit or more (noteMemory); null when none of these tells (docs/isolation.md,
 * "Neighbours of a run that ends its worker").
 */
export function culpritOf<T extends { readonly slot: number }>(
  vitals: WorkerVitals,
  started: readonly (readonly [string, T])[],
  memoryLimitMb?: number,
): string | null {
  const current = vitals.current;
  if (current !== NO_SLOT) {
    for (const [runId, run] of started) if (run.slot === current) return runId;
  }
  if (started.length === 1) return started[0]![0];
  if (memoryLimitMb === undefined) return null;
  let culprit: string | null = null;
  let grownMb = memoryLimitMb / 2;
  for (const [runId, run] of started) {
    const grown = vitals.grownMbOf(run.slot);
    if (grown >= grownMb) [culprit, grownMb] = [runId, grown];
  }
  return culprit;
}
