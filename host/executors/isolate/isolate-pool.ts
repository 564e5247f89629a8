/**
 * The isolates of the isolate executor, keyed by (project, bundle version, memory limit). An isolate serves one run
 * at a time (each run still gets a fresh context): killing or losing an isolate to a memory bomb then ends only
 * that run, and its CPU time is that run's. Idle isolates are kept (up to a few per key) with the main script
 * compiled, so a run costs a context, not an isolate and a compile.
 *
 * Each idle isolate also holds one spare context, made and loaded right after its run ended (while the host writes
 * that run's row), so the next run pays only its entry call. A spare is taken by exactly one run (`takeSpare` hands
 * it over and forgets it) and goes with its isolate when that is disposed.
 *
 * Making a context costs ~0.5 ms of its isolate's thread, more than an empty run. Runs of one job back to back would
 * each wait for the spare of the isolate the last run just left; so a run that finds no idle isolate with its spare
 * ready has the pool make one more isolate of its key in the background (up to maxIdlePerKey), and runs take an
 * idle isolate whose spare is ready first: two isolates then take turns, each making its spare while the other runs.
 *
 * An idle isolate may still run what its last run left behind: a continuation of a host promise (a cache or fetch
 * call) that settles after the run replied runs job code with no run and no time limit around it. The pool watches
 * the CPU clock of its idle isolates and disposes one that burns more than IDLE_CPU_LIMIT_MS outside a run. It keeps
 * watching while a spare loads (a leftover that starts spinning then would otherwise spin unseen, the load queued
 * behind it): the load may add twice what the isolate's loads have cost so far. An isolate that has served no run
 * yet has nothing left behind and is not watched.
 */
import ivm from 'isolated-vm';
import type { Logger } from '../../log/logger.js';
import { FreshContext } from './isolate-context.js';
import { compileRunScript, readRunScript, type RunScript } from './isolate-main.js';

/** CPU an idle isolate may spend on leftovers of its last run before it is disposed. */
const IDLE_CPU_LIMIT_MS = 1_000;
const IDLE_CHECK_MS = 100;

export interface IsolateKey {
  readonly projectId: number;
  readonly bundleId: number;
  readonly memoryLimitMb: number;
}

export interface IsolateSlot {
  readonly key: IsolateKey;
  readonly isolate: ivm.Isolate;
  readonly script: RunScript;
  /** Runs served so far (a slot is recycled after many, to bound slow leaks inside V8). */
  runs: number;
  /** Why we disposed it, or null while it lives (V8 may still dispose it at its memory limit). */
  disposedBy: string | null;
  /** The next run's context, being made or ready; rejects when its load failed (the run then makes its own). */
  spare: Promise<FreshContext> | null;
  /** The spare has loaded and nobody took it yet. */
  spareReady: boolean;
  /** The CPU clock from which the slot's idle time is counted; null before it is idle and while it has served no run. */
  idleCpu: bigint | null;
  /** A spare is loading: the idle budget then also covers the load. */
  spareLoading: boolean;
  /** The most CPU one load of the main into a context has taken in this isolate, in ms. */
  loadCpuMs: number;
}

interface KeyEntry {
  readonly key: IsolateKey;
  readonly main: Promise<string>;
  readonly idle: IsolateSlot[];
  readonly busy: Set<IsolateSlot>;
  retired: boolean;
  /** An isolate is being made in the background for this key. */
  growing: boolean;
}

export interface IsolatePoolOptions {
  readonly logger: Logger;
  /** Idle isolates kept per key; more are disposed when their run ends. */
  readonly maxIdlePerKey: number;
  /** A slot is disposed after this many runs and replaced on demand. */
  readonly maxRunsPerIsolate: number;
  /** The synchronous time limit of loading the main into a spare (a run redoes a load that took more than its own). */
  readonly spareLoadTimeoutMs: number;
}

export class IsolatePool {
  private readonly entries = new Map<string, KeyEntry>();
  /** Each slot's own entry: a retired entry may have been replaced by a fresh one under the same key. */
  private readonly owners = new WeakMap<IsolateSlot, KeyEntry>();
  private idleWatch: NodeJS.Timeout | undefined;

  constructor(private readonly opts: IsolatePoolOptions) {}

  /** An idle isolate of this key, or a new one with the main compiled. Rejects when the main cannot be compiled. */
  async acquire(key: IsolateKey, mainFile: string): Promise<IsolateSlot> {
    const entry = this.entryFor(key, mainFile);
    const idle = this.takeIdle(entry);
    if (idle) {
      entry.busy.add(idle);
      // Nothing idle had its spare ready: runs come faster than one isolate makes contexts.
      if (!idle.spareReady) this.grow(entry, mainFile);
      return idle;
    }
    const slot = await this.create(key, await entry.main, mainFile);
    this.owners.set(slot, entry);
    entry.busy.add(slot);
    return slot;
  }

  /** Back to idle, or disposed when it is gone, retired, worn out or one too many. */
  release(slot: IsolateSlot): void {
    const entry = this.owners.get(slot);
    entry?.busy.delete(slot);
    const keep = entry && !entry.retired && !slot.isolate.isDisposed && slot.runs < this.opts.maxRunsPerIsolate;
    if (keep && entry.idle.length < this.opts.maxIdlePerKey) {
      this.makeIdle(entry, slot);
    } else this.dispose(slot, 'released');
    const name = keyString(slot.key);
    if (entry && entry.retired && entry.busy.size === 0 && this.entries.get(name) === entry) this.entries.delete(name);
  }

  /** The slot's spare context, now this caller's alone; null when there is none. */
  takeSpare(slot: IsolateSlot): Promise<FreshContext> | null {
    const spare = slot.spare;
    slot.spare = null;
    slot.spareReady = false;
    slot.spareLoading = false;
    return spare;
  }

  /** Disposes an isolate (its in-flight run rejects with "Isolate was disposed…"). Safe to call twice. */
  dispose(slot: IsolateSlot, why: string): void {
    slot.disposedBy ??= why;
    // The spare dies with its isolate; its promise's rejection is already handled.
    slot.spare = null;
    slot.spareReady = false;
    if (slot.isolate.isDisposed) return;
    try {
      slot.isolate.dispose();
    } catch (err) {
      this.opts.logger.debug('isolate dispose failed', { error: String(err) });
    }
  }

  /** Drops every isolate of a project that is not of keepBundleId (busy ones when their run ends). */
  retire(projectId: number, keepBundleId: number | null): void {
    for (const [name, entry] of this.entries) {
      if (entry.key.projectId !== projectId || entry.key.bundleId === keepBundleId) continue;
      entry.retired = true;
      for (const slot of entry.idle.splice(0)) this.dispose(slot, 'retired');
      if (entry.busy.size === 0) this.entries.delete(name);
    }
  }

  /** Disposes every isolate, busy ones included: their runs reject at once. */
  disposeAll(why: string): void {
    clearInterval(this.idleWatch);
    this.idleWatch = undefined;
    for (const entry of this.entries.values()) {
      for (const slot of [...entry.idle.splice(0), ...entry.busy]) this.dispose(slot, why);
      entry.busy.clear();
    }
    this.entries.clear();
  }

  /** Live isolates (idle and busy): metrics, and tests that prove nothing leaked. */
  isolateCount(): number {
    let count = 0;
    for (const entry of this.entries.values()) {
      count += entry.idle.filter((s) => !s.isolate.isDisposed).length;
      count += [...entry.busy].filter((s) => !s.isolate.isDisposed).length;
    }
    return count;
  }

  /** Tests only: a synchronous reading waits, on the host's main thread, for a busy isolate's current task to end. */
  heapUsed(): number[] {
    const used: number[] = [];
    for (const entry of this.entries.values()) {
      for (const slot of [...entry.idle, ...entry.busy]) {
        if (!slot.isolate.isDisposed) used.push(slot.isolate.getHeapStatisticsSync().used_heap_size);
      }
    }
    return used;
  }

  /** The idle isolate whose spare is ready, else the one idle longest (its spare is the nearest to ready). */
  private takeIdle(entry: KeyEntry): IsolateSlot | null {
    const live = entry.idle.filter((slot) => !slot.isolate.isDisposed);
    if (live.length === 0) {
      entry.idle.length = 0;
      return null;
    }
    const slot = live.find((s) => s.spareReady) ?? live[0]!;
    entry.idle.length = 0;
    for (const other of live) if (other !== slot) entry.idle.push(other);
    return slot;
  }

  /** One more isolate of the key, made in the background and left idle with its spare; failures only cost the try. */
  private grow(entry: KeyEntry, mainFile: string): void {
    if (entry.growing || entry.retired || entry.idle.length + entry.busy.size >= this.opts.maxIdlePerKey) return;
    entry.growing = true;
    void entry.main
      .then((wrapped) => this.create(entry.key, wrapped, mainFile))
      .then(
        (slot) => {
          this.owners.set(slot, entry);
          if (entry.retired || this.entries.get(keyString(entry.key)) !== entry) this.dispose(slot, 'retired');
          else this.makeIdle(entry, slot);
        },
        (err: unknown) => this.opts.logger.debug('an extra isolate could not be made', { error: String(err) }),
      )
      .finally(() => (entry.growing = false));
  }

  private makeIdle(entry: KeyEntry, slot: IsolateSlot): void {
    slot.idleCpu = slot.runs > 0 ? slot.isolate.cpuTime : null;
    entry.idle.push(slot);
    this.prepareSpare(slot);
    this.idleWatch ??= setInterval(() => this.checkIdle(), IDLE_CHECK_MS).unref();
  }

  /** Disposes idle isolates that keep running leftovers of their last run; stops watching when nothing is idle. */
  private checkIdle(): void {
    let idle = 0;
    for (const entry of this.entries.values()) {
      for (const slot of [...entry.idle]) {
        if (slot.isolate.isDisposed) continue;
        idle++;
        const limitMs = IDLE_CPU_LIMIT_MS + (slot.spareLoading ? 2 * slot.loadCpuMs : 0);
        if (slot.idleCpu === null || idleCpuMs(slot, slot.idleCpu) <= limitMs) continue;
        this.opts.logger.warn('an idle isolate kept running what its last run left behind; disposed', { ...slot.key, limitMs });
        entry.idle.splice(entry.idle.indexOf(slot), 1);
        this.dispose(slot, 'leftover');
      }
    }
    if (idle === 0) {
      clearInterval(this.idleWatch);
      this.idleWatch = undefined;
    }
  }

  private entryFor(key: IsolateKey, mainFile: string): KeyEntry {
    const name = keyString(key);
    let entry = this.entries.get(name);
    if (!entry || entry.retired) {
      const created: KeyEntry = { key, main: readRunScript(mainFile), idle: [], busy: new Set(), retired: false, growing: false };
      // An unreadable main is not cached: the next run tries again (and fails with the same clear error).
      created.main.catch(() => {
        if (this.entries.get(name) === created) this.entries.delete(name);
      });
      entry = created;
      this.entries.set(name, entry);
    }
    return entry;
  }

  private async create(key: IsolateKey, wrapped: string, mainFile: string): Promise<IsolateSlot> {
    const logger = this.opts.logger;
    const isolate = new ivm.Isolate({
      memoryLimit: key.memoryLimitMb,
      // README: not reliable, but when it fires it is the only word we get before the process may go.
      onCatastrophicError: (message) => logger.error('isolated-vm reported a catastrophic error', { message, ...key }),
    });
    try {
      const script = await compileRunScript(isolate, wrapped, mainFile);
      return { key, isolate, script, runs: 0, disposedBy: null, spare: null, spareReady: false, idleCpu: null, spareLoading: false, loadCpuMs: 0 };
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      throw err;
    }
  }

  private prepareSpare(slot: IsolateSlot): void {
    if (slot.spare || slot.isolate.isDisposed) return;
    const timeout = this.opts.spareLoadTimeoutMs;
    slot.spareLoading = true;
    const spare = FreshContext.create(slot.isolate, false).then(async (fresh) => {
      try {
        await fresh.load(slot.script, timeout);
        return fresh;
      } catch (err) {
        fresh.release();
        throw err;
      }
    });
    // The load counts against the run that takes the spare, not as leftovers: the idle clock starts again after it.
    const loaded = (): void => {
      if (slot.spare !== spare) return;
      slot.spareLoading = false;
      if (slot.idleCpu !== null && !slot.isolate.isDisposed) slot.idleCpu = slot.isolate.cpuTime;
    };
    spare.then(loaded, loaded);
    // A failed spare is not an error of anyone's yet: the run that takes it loads again and reports what happens.
    spare.then(
      () => {
        if (slot.spare === spare) slot.spareReady = true;
      },
      () => undefined,
    );
    slot.spare = spare;
  }
}

/** CPU the isolate spent since `from`, in ms; 0 when V8 disposed it meanwhile (cpuTime then throws). */
function idleCpuMs(slot: IsolateSlot, from: bigint): number {
  try {
    return Number(slot.isolate.cpuTime - from) / 1e6;
  } catch {
    return 0;
  }
}

function keyString(key: IsolateKey): string {
  return `${key.projectId}/${key.bundleId}/${key.memoryLimitMb}`;
}
