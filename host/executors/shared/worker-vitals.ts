/**
 * Inside a worker thread (a thread pool worker or a module context's worker): its side of the vitals the host reads
 * (vitals.ts). Everything here is taken when the module is first evaluated, before any job code loads, so a job that
 * replaces Atomics, the timers or v8 does not reach it.
 */
import { getHeapStatistics } from 'node:v8';
import { workerData } from 'node:worker_threads';
import { BEAT_MS, BLOCKED_MS, NO_SLOT, VITALS_WORDS } from './vitals.js';

const { store, compareExchange } = Atomics;
const setIntervalSafe = setInterval;
const clearIntervalSafe = clearInterval;
const { floor } = Math;
/** Ticks the heartbeat goes on after the worker's last run: longer than the host takes to see that run's result. */
const LINGER_TICKS = Math.ceil((2 * BLOCKED_MS) / BEAT_MS);

/**
 * Takes the vitals buffer out of workerData, so job code never finds it (it reads workerData too). Null when the
 * worker was started without one (a test that starts a worker file itself).
 */
export function takeVitals(): SharedArrayBuffer | null {
  const data = workerData as { vitals?: unknown } | null;
  const buffer = data?.vitals;
  if (data) delete data.vitals;
  return buffer instanceof SharedArrayBuffer ? buffer : null;
}

export class Heartbeat {
  readonly #words: Int32Array | null;
  readonly #busy: () => boolean;
  #beat = 0;
  #timer: NodeJS.Timeout | null = null;
  #idleTicks = 0;

  /** `busy`: the worker holds runs (running or waiting for their start time). */
  constructor(buffer: SharedArrayBuffer | null, busy: () => boolean) {
    this.#words = buffer ? new Int32Array(buffer) : null;
    this.#busy = busy;
  }

  /** The worker got a message (its timers may be starved by a stream of them): it is alive; the timer runs. */
  bump(): void {
    if (!this.#words) return;
    store(this.#words, VITALS_WORDS.beat, ++this.#beat);
    this.#idleTicks = 0;
    if (!this.#timer) {
      this.#timer = setIntervalSafe(() => this.#tick(), BEAT_MS);
      this.#timer.unref();
    }
  }

  /** True when the run handed over in `slot` with `seq` may start here: the host has not taken it back. */
  claim(slot: number, seq: number): boolean {
    if (!this.#words || slot === NO_SLOT) return true;
    return compareExchange(this.#words, VITALS_WORDS.claims + slot, seq, -seq) === seq;
  }

  /** The worker enters the synchronous start of the run in `slot`. */
  enter(slot: number): void {
    if (this.#words) store(this.#words, VITALS_WORDS.current, slot + 1);
  }

  /** ... and leaves it (the run reached its first await, or ended). */
  leave(): void {
    if (this.#words) store(this.#words, VITALS_WORDS.current, 0);
  }

  /** The worker's heap in use plus its external memory (Buffers), measured by the caller. */
  memory(bytes: number): void {
    if (this.#words) store(this.#words, VITALS_WORDS.memoryKib, floor(bytes / 1024));
  }

  #tick(): void {
    store(this.#words!, VITALS_WORDS.beat, ++this.#beat);
    try {
      const heap = getHeapStatistics();
      this.memory(heap.used_heap_size + heap.external_memory);
    } catch {
      // A figure that cannot be read leaves the last one.
    }
    if (this.#busy()) this.#idleTicks = 0;
    else if (++this.#idleTicks > LINGER_TICKS) {
      clearIntervalSafe(this.#timer!);
      this.#timer = null;
    }
  }
}
