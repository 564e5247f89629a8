/**
 * Inside a worker thread (a thread pool worker or a module context's worker): its side of the vitals the host reads
 * (vitals.ts). Everything here is taken when the module is first evaluated, before any job code loads, so a job that
 * replaces Atomics, the timers or v8 does not reach it.
 */
import { getHeapStatistics } from 'node:v8';
import { workerData } from 'node:worker_threads';
import { BEAT_MS, NO_SLOT, VITALS_WORDS } from './vitals.js';

const { store, compareExchange } = Atomics;
const setIntervalSafe = setInterval;
const clearIntervalSafe = clearInterval;
const setImmediateSafe = setImmediate;
const { floor } = Math;
/**
 * The heartbeat beats only while a run runs on the worker: after the macrotask that starts runs, the timer starts if
 * one still runs; the first tick that finds no run running stops it, and a run's end beats once and stops it when it
 * was the last. A run that ends before the first tick (most do: BEAT_MS is 20 ms) costs the worker no wakeup, where a
 * timer wakeup costs a process ~0.2-0.3 ms of CPU on this machine (docs/decisions.md, "Blocked and oversized
 * workers"). While the worker holds only runs waiting for their start time (planned fires arrive fireLeadMs early: no
 * job code of theirs runs yet) it does not beat at all: the host does not count silence while no run of a worker is
 * due (thread-handle.ts inspect), and each held run wakes the worker at its time, which starts the timer.
 *
 * The beat at a run's end stands for the result on its way: the result leaves at the end of the run's macrotask, and
 * the host reads it within a loop iteration (a host that stalls longer restarts its silence clock: vitals.ts LATE_MS).
 */

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
  /** leave() asked for the timer: #arm runs once the current macrotask is done. */
  #arming = false;

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

  /** The worker enters the synchronous start of the run in `slot`. */
  enter(slot: number): void {
    if (this.#words) store(this.#words, VITALS_WORDS.current, slot + 1);
  }

  /**
   * ... and leaves it (the run reached its first await, or ended). The timer starts after this macrotask, if a run
   * still runs then: no timer can fire during a synchronous start anyway (the host reads that silence), and runs that
   * ended by then (synchronous jobs, whose results settle in microtasks) need none, so a batch of them does not start
   * and stop a timer per run.
   */
  leave(): void {
    if (!this.#words) return;
    store(this.#words, VITALS_WORDS.current, 0);
    if (this.#timer || this.#arming) return;
    this.#arming = true;
    setImmediateSafe(this.#arm);
  }

  /** A run ended (its result is on its way): one beat, and the timer stops when no run runs any more. */
  ended(): void {
    this.bump();
    if (this.#timer && !this.#running()) this.#stop();
  }

  /** The worker's heap in use plus its external memory (Buffers), measured by the caller. */
  memory(bytes: number): void {
    if (this.#words) store(this.#words, VITALS_WORDS.memoryKib, floor(bytes / 1024));
  }

  /** After the macrotask that started runs (and ended the synchronous ones): the timer, if a run still runs. */
  readonly #arm = (): void => {
    this.#arming = false;
    if (this.#timer || !this.#running()) return;
    this.#timer = setIntervalSafe(() => this.#tick(), BEAT_MS);
    this.#timer.unref();
  };

  #tick(): void {
    store(this.#words!, VITALS_WORDS.beat, ++this.#beat);
    if (!this.#running()) return this.#stop();
    try {
      const heap = getHeapStatistics();
      this.memory(heap.used_heap_size + heap.external_memory);
    } catch {
      // A figure that cannot be read leaves the last one.
    }
  }

  #stop(): void {
    if (this.#timer) clearIntervalSafe(this.#timer);
    this.#timer = null;
  }
}
