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
/**
 * The heartbeat's slow pace: four beats per BLOCKED_MS, and no heap reading. A worker beats at it for LINGER_TICKS
 * beats after its last run ended (its result is on its way; the runs' last memory figure came with their results),
 * then stops. While it holds only runs waiting for their start time (planned fires arrive fireLeadMs early: no job
 * code of theirs runs yet) it does not beat at all: the host does not count silence while no run of a worker is due
 * (thread-handle.ts inspect), and each held run wakes the worker at its time, which starts the busy pace.
 *
 * The linger is short because the host's reading does not need it to cover the host's own stalls (vitals.ts LATE_MS):
 * the result leaves at the end of the run's macrotask and the host reads it within a loop iteration.
 */
const SLOW_BEAT_MS = BLOCKED_MS / 4;
const LINGER_TICKS = 2;

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
  /** A run runs on the worker (runs waiting for their start time do not count). */
  readonly #running: () => boolean;
  #beat = 0;
  #timer: NodeJS.Timeout | null = null;
  /** The timer beats at the slow pace. */
  #slow = false;
  #idleTicks = 0;

  constructor(buffer: SharedArrayBuffer | null, running: () => boolean) {
    this.#words = buffer ? new Int32Array(buffer) : null;
    this.#running = running;
  }

  /**
   * The worker got a message (its timers may be starved by a stream of them): it is alive. The timer is started by a
   * run's start (enter), not here: a message that only hands over runs for later must not start it.
   */
  bump(): void {
    if (this.#words) store(this.#words, VITALS_WORDS.beat, ++this.#beat);
  }

  /** True when the run handed over in `slot` with `seq` may start here: the host has not taken it back. */
  claim(slot: number, seq: number): boolean {
    if (!this.#words || slot === NO_SLOT) return true;
    return compareExchange(this.#words, VITALS_WORDS.claims + slot, seq, -seq) === seq;
  }

  /** The worker enters the synchronous start of the run in `slot`: the busy pace, from a slow one. */
  enter(slot: number): void {
    if (!this.#words) return;
    store(this.#words, VITALS_WORDS.current, slot + 1);
    if (this.#slow || !this.#timer) this.#arm(false);
  }

  /** ... and leaves it (the run reached its first await, or ended). */
  leave(): void {
    if (this.#words) store(this.#words, VITALS_WORDS.current, 0);
  }

  /** The worker's heap in use plus its external memory (Buffers), measured by the caller. */
  memory(bytes: number): void {
    if (this.#words) store(this.#words, VITALS_WORDS.memoryKib, floor(bytes / 1024));
  }

  /** (Re)starts the timer at the busy pace, or at the slow one. */
  #arm(slow: boolean): void {
    if (this.#timer) clearIntervalSafe(this.#timer);
    this.#slow = slow;
    this.#idleTicks = 0;
    this.#timer = setIntervalSafe(() => this.#tick(), slow ? SLOW_BEAT_MS : BEAT_MS);
    this.#timer.unref();
  }

  #tick(): void {
    store(this.#words!, VITALS_WORDS.beat, ++this.#beat);
    if (this.#running()) {
      if (this.#slow) this.#arm(false);
      try {
        const heap = getHeapStatistics();
        this.memory(heap.used_heap_size + heap.external_memory);
      } catch {
        // A figure that cannot be read leaves the last one.
      }
    } else if (!this.#slow) this.#arm(true);
    else if (++this.#idleTicks >= LINGER_TICKS) {
      clearIntervalSafe(this.#timer!);
      this.#timer = null;
      this.#slow = false;
    }
  }
}
