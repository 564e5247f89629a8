/**
 * What one run's abort hook costs dispatch, the way the thread executor uses it (a listener added at the start and
 * removed at the end), over bursts of runs held at once:
 * - a listener array (the `onAbort` hook RunHooks had beside its signal until issue 24),
 * - a new AbortController per run (its signal and an 'abort' listener),
 * - an AbortController taken from dispatch's idle ones and given back (host/dispatch/idle-controllers.ts),
 * - the same, watched through watchAbort (host/executors/shared/abort-watch.ts: one listener per signal for its life).
 * Run: npx tsc -b && node --no-node-snapshot --expose-gc dist/bench/abort-cost.js [burst] [rounds]
 */
import { performance } from 'node:perf_hooks';
import { IdleControllers } from '../host/dispatch/idle-controllers.js';
import { watchAbort } from '../host/executors/shared/abort-watch.js';

const burst = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 30);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

/** One run's hook: made at the start, a listener on, the listener off at the end, then dropped or given back. */
interface Way {
  start(listener: () => void): unknown;
  end(held: unknown, listener: () => void): void;
}

const listenerArray: Way = {
  start(listener) {
    const held = { aborted: false, listeners: [] as (() => void)[] };
    held.listeners.push(listener);
    return held;
  },
  end(held) {
    (held as { listeners: (() => void)[] | null }).listeners = null;
  },
};

const newController: Way = {
  start(listener) {
    const controller = new AbortController();
    controller.signal.addEventListener('abort', listener, { once: true });
    return controller;
  },
  end(held, listener) {
    (held as AbortController).signal.removeEventListener('abort', listener);
  },
};

const idle = new IdleControllers();
const reusedController: Way = {
  start(listener) {
    const controller = idle.take();
    controller.signal.addEventListener('abort', listener, { once: true });
    return controller;
  },
  end(held, listener) {
    const controller = held as AbortController;
    controller.signal.removeEventListener('abort', listener);
    idle.give(controller);
  },
};

/** ns per run over one burst: every run started, then every run ended (a burst holds them all at once). */
function round(way: Way): number {
  const held: unknown[] = new Array(burst);
  const listeners: (() => void)[] = new Array(burst);
  const t0 = performance.now();
  for (let i = 0; i < burst; i++) {
    const listener = (): void => undefined;
    listeners[i] = listener;
    held[i] = way.start(listener);
  }
  for (let i = 0; i < burst; i++) way.end(held[i], listeners[i]!);
  return ((performance.now() - t0) * 1e6) / burst;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const watchedIdle = new IdleControllers();
const watchedController: Way = {
  start(listener) {
    const controller = watchedIdle.take();
    return { controller, unwatch: watchAbort(controller.signal, listener) };
  },
  end(held) {
    const { controller, unwatch } = held as { controller: AbortController; unwatch: () => void };
    unwatch();
    watchedIdle.give(controller);
  },
};

const ways: Array<[string, Way]> = [
  ['listener array (onAbort)', listenerArray],
  ['new AbortController', newController],
  ['reused AbortController', reusedController],
  ['reused, watchAbort', watchedController],
];
const samples = new Map<string, number[]>(ways.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  // Interleaved, so drift of the machine falls on every way alike.
  for (const [name, way] of ways) {
    gc();
    samples.get(name)!.push(round(way));
  }
}
process.stdout.write(`bursts of ${burst} runs, ${rounds} rounds each (median, min, max ns per run; the first round warms up)\n`);
for (const [name] of ways) {
  const values = samples.get(name)!.slice(1);
  const text = (ns: number): string => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
  process.stdout.write(`${name.padEnd(26)} ${text(median(values)).padStart(9)}  ${text(Math.min(...values)).padStart(9)}  ${text(Math.max(...values)).padStart(9)}\n`);
}
