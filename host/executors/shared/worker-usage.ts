/**
 * Inside a worker thread (a thread pool worker or a module context's worker): what its runs use, as the worker sees
 * it. Runs share the worker, so a run's figures are the worker's while the run was in flight (docs/statuses.md,
 * "Resources"): the thread's CPU time from the run's start to its end, other runs' work on the same thread in that
 * window included, and the largest heap seen meanwhile.
 *
 * CPU is the thread's own clock, /proc/thread-self/schedstat (ns the thread ran): Node 20 has no
 * process.threadCpuUsage, process.cpuUsage() counts the whole process, and eventLoopUtilization is wall time. The file
 * is opened once, by the worker thread itself (thread-self names the thread that opens it), and re-read in place: a
 * pread costs ~3 µs, an open, read and close ~11 µs (measured). Node closes it when the worker exits
 * (trackUnmanagedFds, also after terminate() and out-of-memory, measured). Where it cannot be read (not Linux, the
 * permission model) CPU is unknown.
 *
 * Memory is V8's used heap plus the external memory (Buffers, ArrayBuffers) of the worker's isolate, ~1 µs a reading.
 * Readings are taken at a run's start and end and every SAMPLE_MS while runs are in flight; a peak that comes and is
 * collected between two readings is not seen.
 */
import { openSync, readSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import type { RunUsage } from './executor.js';
import { SafeMap } from './worker-primordials.js';

// Taken before job code runs (see worker-primordials.ts): a job that replaces these must not stop its run's result.
const { apply } = Reflect;
const { max: maxOf, round: roundOf } = Math;
const { isFinite } = Number;
const parseInteger = parseInt;
const setIntervalSafe = setInterval;
const clearIntervalSafe = clearInterval;
const bufferToString = Buffer.prototype.toString;

/** Heap readings while runs are in flight. */
const SAMPLE_MS = 100;
const MIB = 1024 * 1024;

export interface UsageReading {
  /** The thread's CPU time in ns; null when it cannot be read. */
  readonly cpuNs: number | null;
  readonly heapBytes: number;
}

/** One run's figures while it is in flight. */
export interface RunMeter {
  readonly startCpuNs: number | null;
  peakBytes: number;
}

export class WorkerUsage {
  /** The schedstat descriptor; null once it proved unreadable. */
  #fd: number | null | undefined;
  readonly #buf = Buffer.alloc(128);
  readonly #live = new SafeMap<RunMeter, true>();
  #sampler: NodeJS.Timeout | null = null;

  /** Must first be called on the worker thread itself (it opens the clock of the calling thread). */
  read(): UsageReading {
    try {
      return { cpuNs: this.#cpuNs(), heapBytes: heapBytes() };
    } catch {
      return { cpuNs: null, heapBytes: 0 };
    }
  }

  /** A run started at `at`: its heap peak is followed from now on. */
  open(at: UsageReading): RunMeter {
    const meter: RunMeter = { startCpuNs: at.cpuNs, peakBytes: at.heapBytes };
    this.#live.set(meter, true);
    this.#sampler ??= setIntervalSafe(() => this.#sample(), SAMPLE_MS);
    this.#sampler.unref();
    return meter;
  }

  /** The run ended at or before `at`: what it used. */
  close(meter: RunMeter, at: UsageReading): RunUsage {
    this.#live.delete(meter);
    const peakMemoryMb = round(maxOf(meter.peakBytes, at.heapBytes) / MIB);
    if (meter.startCpuNs === null || at.cpuNs === null) return { peakMemoryMb };
    return { cpuMs: round((at.cpuNs - meter.startCpuNs) / 1e6), peakMemoryMb };
  }

  #sample(): void {
    // The timer stops itself once nothing is in flight, rather than being cleared and made again between batches.
    if (this.#live.size === 0) {
      clearIntervalSafe(this.#sampler!);
      this.#sampler = null;
      return;
    }
    let bytes: number;
    try {
      bytes = heapBytes();
    } catch {
      return;
    }
    this.#live.forEach((_, meter) => {
      if (bytes > meter.peakBytes) meter.peakBytes = bytes;
    });
  }

  #cpuNs(): number | null {
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync('/proc/thread-self/schedstat', 'r');
      } catch {
        this.#fd = null;
      }
    }
    if (this.#fd === null) return null;
    try {
      const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
      const ns = parseInteger(apply(bufferToString, this.#buf, ['latin1', 0, n]) as string, 10);
      return isFinite(ns) ? ns : null;
    } catch {
      return null;
    }
  }
}

function heapBytes(): number {
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}

/** Micro-units: enough for a millisecond or MiB figure, without float noise in the run row. */
function round(value: number): number {
  return roundOf(value * 1000) / 1000;
}
