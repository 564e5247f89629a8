/**
 * One run in an isolate: a fresh context with the bundle's main loaded (the isolate's spare, or one made for the run,
 * see isolate-context.ts), then one entry call that copies the RunData in, builds the JobContext and runs the job.
 * The host enforces what isolated-vm does not: a wall-clock kill (abort, then dispose after
 * killGraceMs — isolated-vm's `timeout` ignores time spent awaiting), a CPU budget over the whole run (a watchdog
 * reads isolate.cpuTime: timer callbacks and promise continuations run without any `timeout`), and noticing an
 * isolate V8 disposed at its memory limit while nothing of ours was waiting on it.
 *
 * The isolate serves this run alone, so its figures are the run's: the CPU its isolate.cpuTime clock advanced by, and
 * the largest heap (V8's used heap plus memory allocated outside it that counts against the limit, ArrayBuffers)
 * read at the start, on each watchdog tick and at the end.
 *
 * Nothing here calls a synchronous isolated-vm method that needs the isolate's lock while the isolate may be running:
 * such a call waits on the host's main thread until the isolate's current task ends. A heap reading with
 * getHeapStatisticsSync on the watchdog's first tick held the whole host (every job, every request) for as long as
 * an endless loop ran, ~2.9 s under a 3 s limit (measured; docs/isolation.md). Heap readings are asynchronous
 * (~40 µs a round trip on an idle isolate, measured; one in flight at a time); cpuTime and isDisposed need no lock.
 */
import type { LogLevel } from '@jobcenter/job-api';
import { reasonText } from '../../errors/index.js';
import type { RunHooks, RunRequest, RunUsage } from '../shared/executor.js';
import { watchAbort } from '../shared/abort-watch.js';
import { FreshContext, type ContextBinding } from './isolate-context.js';
import { createHostFetch } from './isolate-fetch.js';
import type { IsolatePool, IsolateSlot } from './isolate-pool.js';
import type { PreludeHandles, RunData, RunReply } from './isolate-protocol.js';
import { boundedJson, CACHE_VALUE_MAX_CHARS, cacheValueTooLarge } from '../shared/wire-limits.js';

const WATCHDOG_MS = 100;
/** Pending timers a run may hold; more is a bug or an attack on the host's timer list. */
const MAX_TIMERS = 10_000;
const MAX_DELAY_MS = 2 ** 31 - 1;
const LEVELS = new Set<LogLevel>(['trace', 'debug', 'info', 'warn', 'error']);
const MIB = 1024 * 1024;
/** How long the end of a run waits for its last heap reading: an isolate still busy (a leftover task) is not waited for. */
const END_HEAP_WAIT_MS = 50;

export interface IsolateRunOptions {
  readonly pool: IsolatePool;
  readonly killGraceMs: number;
  /** CPU budget of the run, also the `timeout` of each synchronous entry into the isolate. */
  readonly cpuLimitMs: number;
}

/** How the run ended when it did not end by itself. */
export type Forced =
  | { readonly kind: 'killed' }
  | { readonly kind: 'cpu' }
  | { readonly kind: 'slice'; readonly error: unknown }
  | { readonly kind: 'gone' };

export type RunEnd = { readonly reply: RunReply } | { readonly forced: Forced } | { readonly thrown: unknown };

export interface RunResult {
  /** Null when the run never started: hooks.signal was aborted by the time its gate opened. */
  readonly end: RunEnd | null;
  readonly usage: RunUsage;
}

export async function runInSlot(slot: IsolateSlot, request: RunRequest, entry: string, hooks: RunHooks, opts: IsolateRunOptions): Promise<RunResult> {
  const run = new IsolateRun(slot, request, hooks, opts);
  try {
    const end = await run.execute(entry);
    return { end, usage: await run.usage() };
  } finally {
    run.cleanup();
  }
}

class IsolateRun {
  private fresh: FreshContext | null = null;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /** Only a run with a fetch grant has one: aborting it costs ~50 µs a run (measured). */
  private fetches: AbortController | null = null;
  private startCpu: bigint;
  /** The isolate's CPU clock when the run ended, or when we disposed the isolate under it; null until then. */
  private endCpu: bigint | null = null;
  /** The largest heap read during the run, in bytes. */
  private peakBytes = 0;
  /** The heap reading in flight: a busy isolate answers only when its current task ends, so one is enough. */
  private heapReading: Promise<void> | null = null;
  private ended = false;
  /** Stops watching the run's signal (cleanup). */
  private unwatchAbort: () => void = () => undefined;
  private forced!: (why: Forced) => void;
  private readonly forcedPromise = new Promise<Forced>((resolve) => (this.forced = resolve));
  private watchdog: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly slot: IsolateSlot,
    private readonly request: RunRequest,
    private readonly hooks: RunHooks,
    private readonly opts: IsolateRunOptions,
  ) {
    this.startCpu = slot.isolate.cpuTime;
    void this.measureHeap();
  }

  async execute(entry: string): Promise<RunEnd | null> {
    const gate = this.hooks.gate;
    let taking: Promise<FreshContext> | null = null;
    if (gate) {
      // Taking the context starts while dispatch still writes the run's row; the gate always opens. From then on
      // the take is the run's first stage, under its watchdog and kill like the rest (a slow load included).
      taking = this.takeContext(this.opts.cpuLimitMs);
      taking.catch(() => undefined);
      await new Promise<void>((resolve) => gate.onOpen(resolve));
      if (this.hooks.signal.aborted) return null;
    }
    this.unwatchAbort = watchAbort(this.hooks.signal, this.onAbort);
    this.watchdog = setInterval(() => this.check(), WATCHDOG_MS);
    const work = this.stages(entry, taking).then(
      (reply): RunEnd => ({ reply }),
      (thrown: unknown): RunEnd => ({ thrown }),
    );
    return Promise.race([work, this.forcedPromise.then((forced): RunEnd => ({ forced }))]);
  }

  /** What the run used; CPU is unknown when V8 disposed the isolate (at its memory limit) before it could be read. */
  async usage(): Promise<RunUsage> {
    this.settle();
    await this.lastHeapReading();
    const peakMemoryMb = Math.round((this.peakBytes / MIB) * 1000) / 1000;
    if (this.endCpu === null) return { peakMemoryMb };
    return { cpuMs: Number(this.endCpu - this.startCpu) / 1e6, peakMemoryMb };
  }

  /** The run's CPU clock, read once while the isolate still lives (at the end, or before we dispose it). */
  private settle(): void {
    if (this.endCpu !== null || this.slot.isolate.isDisposed) return;
    try {
      this.endCpu = this.slot.isolate.cpuTime;
    } catch {
      // Being disposed by V8 at its memory limit (isDisposed says so a moment after the run's promise was abandoned).
    }
  }

  /** A heap reading, or the one already in flight. Never rejects. */
  private measureHeap(): Promise<void> {
    this.heapReading ??= this.readHeap().finally(() => (this.heapReading = null));
    return this.heapReading;
  }

  private async readHeap(): Promise<void> {
    try {
      const heap = await this.slot.isolate.getHeapStatistics();
      const bytes = heap.used_heap_size + heap.externally_allocated_size;
      if (bytes > this.peakBytes) this.peakBytes = bytes;
    } catch {
      // As in settle(): the isolate went under us; the readings so far stand.
    }
  }

  /** The end of the run's heap: read unless the isolate is gone or still busy after END_HEAP_WAIT_MS. */
  private async lastHeapReading(): Promise<void> {
    if (this.slot.isolate.isDisposed) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, END_HEAP_WAIT_MS)));
    try {
      await Promise.race([this.measureHeap(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Disposes the run's isolate, its figures read first. */
  private dispose(why: 'killed' | 'cpu'): void {
    this.settle();
    this.opts.pool.dispose(this.slot, why);
  }

  private get handles(): PreludeHandles | null {
    return this.fresh?.handles ?? null;
  }

  /** Everything the run armed on the host side goes, then the context: released, never left to the GC. */
  cleanup(): void {
    this.ended = true;
    clearInterval(this.watchdog);
    clearTimeout(this.graceTimer);
    this.unwatchAbort();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.fetches?.abort(new Error('the run has ended'));
    this.fresh?.release();
    this.fresh = null;
  }

  private async stages(entry: string, taking: Promise<FreshContext> | null): Promise<RunReply> {
    const timeout = this.opts.cpuLimitMs;
    const handles = (await (taking ?? this.takeContext(timeout))).handles;
    if (!handles) throw new Error('the isolate prelude did not register its handles');
    if (this.hooks.signal.aborted) this.tellAbort();
    this.hooks.started?.(Date.now());
    return handles.run.apply(undefined, [entry, this.runData()], { arguments: { copy: true }, result: { promise: true, copy: true }, timeout });
  }

  /**
   * The isolate's spare when it fits this run, else a context made and loaded now under this run's limits: a run
   * with a fetch grant needs the fetch global at load, a spare whose load failed or took more CPU than this run
   * may use is redone so the run fails (or not) exactly as it would have without spares.
   */
  private async takeContext(timeout: number): Promise<FreshContext> {
    const withFetch = Boolean(this.request.grants?.fetch);
    const spare = withFetch ? null : this.opts.pool.takeSpare(this.slot);
    const ready = spare ? await spare.catch(() => null) : null;
    if (ready && ready.loadCpuNs <= BigInt(timeout) * 1_000_000n) {
      this.adopt(ready);
      this.noteLoad(ready);
      // Its load is this run's CPU, as it would be in a context made for the run.
      if (ready.startCpu < this.startCpu) this.startCpu = ready.startCpu;
      return ready;
    }
    ready?.release();
    const fresh = await FreshContext.create(this.slot.isolate, withFetch);
    this.adopt(fresh);
    await fresh.load(this.slot.script, timeout);
    this.noteLoad(fresh);
    return fresh;
  }

  /** What a load costs in this isolate: the pool's watch allows it while a spare loads. */
  private noteLoad(fresh: FreshContext): void {
    this.slot.loadCpuMs = Math.max(this.slot.loadCpuMs, Number(fresh.loadCpuNs) / 1e6);
  }

  /** Binds a context to this run; one that arrives after the run was ended is released at once. */
  private adopt(fresh: FreshContext): void {
    if (this.ended) {
      fresh.release();
      throw new Error('the run ended before its context was ready');
    }
    this.fresh = fresh;
    fresh.bind(this.binding());
  }

  private binding(): ContextBinding {
    const grant = this.request.grants?.fetch;
    const binding = { log: this.logBridge, timer: this.timerBridge, cache: this.cacheBridge };
    if (!grant) return binding;
    this.fetches = new AbortController();
    return { ...binding, fetch: createHostFetch(grant, this.fetches.signal) };
  }

  private runData(): RunData {
    return {
      runId: this.request.runId,
      job: { id: this.request.job.id, name: this.request.job.name, project: this.request.job.project },
      params: this.request.params ?? null,
      config: { ...this.request.config },
      scheduledAt: this.request.scheduledAt.getTime(),
      attempt: this.request.attempt,
      fencingToken: this.request.fencingToken,
    };
  }

  private readonly logBridge = (level: unknown, message: unknown): void => {
    if (this.ended) return;
    this.hooks.log(LEVELS.has(level as LogLevel) ? (level as LogLevel) : 'info', String(message));
  };

  private readonly cacheBridge = async (op: unknown, key: unknown, value?: unknown, ttlMs?: unknown): Promise<unknown> => {
    if (this.ended) throw new Error('the run has ended: cache is not available');
    const name = String(key);
    if (op === 'get') return this.hooks.cache.get(name);
    if (op === 'set') {
      // The prelude measured the value before copying it here; measured again, as everything a job hands over is.
      const bounded = boundedJson(value, CACHE_VALUE_MAX_CHARS);
      if ('tooLarge' in bounded) throw cacheValueTooLarge(bounded.tooLarge);
      return this.hooks.cache.set(name, value, typeof ttlMs === 'number' ? ttlMs : undefined);
    }
    if (op === 'delete') return this.hooks.cache.delete(name);
    throw new Error(`unknown cache operation ${String(op)}`);
  };

  private readonly timerBridge = (op: unknown, id: unknown, delayMs?: unknown, repeat?: unknown): void => {
    if (typeof id !== 'number') return;
    if (op === 'clear') {
      clearTimeout(this.timers.get(id));
      this.timers.delete(id);
      return;
    }
    if (this.ended) return;
    if (this.timers.size >= MAX_TIMERS) throw new Error(`a run may not have more than ${MAX_TIMERS} pending timers`);
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, Number(delayMs) || 0));
    const fire = (): void => this.fire(id, repeat === true);
    this.timers.set(id, repeat === true ? setInterval(fire, Math.max(1, delay)) : setTimeout(fire, delay));
  };

  /** A timer callback runs with the same CPU slice limit as the entry call; exceeding it ends the run. */
  private fire(id: number, repeat: boolean): void {
    if (!repeat) this.timers.delete(id);
    const handles = this.handles;
    if (this.ended || !handles || this.slot.isolate.isDisposed) return;
    handles.fire.apply(undefined, [id], { timeout: this.opts.cpuLimitMs }).catch((error: unknown) => {
      if (!this.ended) this.forced(this.slot.isolate.isDisposed ? { kind: 'gone' } : { kind: 'slice', error });
    });
  }

  private readonly onAbort = (): void => {
    this.tellAbort();
    this.graceTimer = setTimeout(() => {
      if (this.ended) return;
      this.dispose('killed');
      this.forced({ kind: 'killed' });
    }, this.opts.killGraceMs);
  };

  private tellAbort(): void {
    const handles = this.handles;
    if (!handles || this.slot.isolate.isDisposed) return;
    const reason = reasonText(this.hooks.signal.reason);
    handles.abort.apply(undefined, [reason], { timeout: this.opts.cpuLimitMs }).catch(() => undefined);
  }

  private check(): void {
    const isolate = this.slot.isolate;
    if (isolate.isDisposed) {
      this.forced({ kind: 'gone' });
      return;
    }
    if (Number(isolate.cpuTime - this.startCpu) / 1e6 > this.opts.cpuLimitMs) {
      this.dispose('cpu');
      this.forced({ kind: 'cpu' });
      return;
    }
    void this.measureHeap();
  }
}
