/**
 * One fresh context of an isolate, from creation to release: its bridges, the run script (prelude, then the
 * bundle's main) and the prelude's handles. A context serves exactly one run and is released when that run ends.
 *
 * A context can be prepared before any run takes it (the pool keeps one spare per idle isolate, see
 * isolate-pool.ts): creating it and evaluating the main cost ~0.9 ms, the entry call ~0.1 ms (measured), so a run
 * that finds a spare pays only the call. Until a run binds it, what the main does at load through the bridges (log
 * lines, timers) is kept and replayed, in order, into the run that binds it; so a run sees the same log and timers
 * whether its context was a spare or made for it.
 */
import ivm from 'isolated-vm';
import { runRunScript, type RunScript } from './isolate-main.js';
import { BRIDGE_GLOBALS } from './isolate-prelude.js';
import type { CacheBridge, FetchBridge, PreludeHandles } from './isolate-protocol.js';

/** Bridge calls a main may make while it loads with no run bound; beyond, the load fails (and is redone inline). */
const MAX_EARLY_CALLS = 10_000;

/** The side of a run that a context's bridges call into (arguments come straight from the isolate: unchecked). */
export interface ContextBinding {
  log(level: unknown, message: unknown): void;
  timer(op: unknown, id: unknown, delayMs?: unknown, repeat?: unknown): void;
  readonly cache: CacheBridge;
  /** Present when the run has a fetch grant (the context must then have been created with fetch). */
  readonly fetch?: FetchBridge;
}

type EarlyCall = (binding: ContextBinding) => void;

/** Puts the closure's arguments ($0, $1, …) on the bridge globals, which the prelude takes and deletes. */
const SET_BRIDGES = `${BRIDGE_GLOBALS.map((name, i) => `globalThis.${name} = $${i};`).join(' ')} undefined;`;

export class FreshContext {
  /** Isolate CPU time when this context started being made: a run that takes it counts its load as its own. */
  readonly startCpu: bigint;
  /** CPU the creation and the load took, once loaded. */
  loadCpuNs = 0n;
  private handlesValue: PreludeHandles | null = null;
  private binding: ContextBinding | null = null;
  private early: EarlyCall[] = [];
  private released = false;
  private readonly refs: ivm.Reference[] = [];

  private constructor(
    private readonly isolate: ivm.Isolate,
    private readonly context: ivm.Context,
    startCpu: bigint,
    withFetch: boolean,
  ) {
    this.startCpu = startCpu;
    const cache = this.keep(new ivm.Reference(handled(this.onCache)));
    const fetch = withFetch ? this.keep(new ivm.Reference(handled(this.onFetch))) : undefined;
    const register = this.keep(
      new ivm.Reference((run: PreludeHandles['run'], fire: PreludeHandles['fire'], abort: PreludeHandles['abort']) => {
        this.handlesValue = { run, fire, abort };
      }),
    );
    this.bridges = [new ivm.Callback(this.onLog), new ivm.Callback(this.onTimer), cache, fetch, register];
  }

  private readonly bridges: readonly (ivm.Callback | ivm.Reference | undefined)[];

  /**
   * A new context with the bridges in place; `withFetch` installs a global fetch (only a run with a grant may bind it).
   * The bridges go in with one asynchronous call (evalClosure, which takes them as its arguments), never a synchronous
   * one: that waits on the host's main thread for the isolate's lock, and an idle isolate may be spinning on what its
   * last run left behind (a loop in a promise continuation), holding the host's event loop, and with it the idle
   * watch that would dispose the isolate, for good (seen: a test host hung 20 min in `setSync`). Not the asynchronous
   * `Reference.set` either: one still pending as its isolate was disposed aborted the process in isolated-vm 5.0
   * (`IsolateEnvironment::GetCurrent`, 1 run in 12 of isolate-spare.test); an evalClosure pending then rejects, as a
   * run's calls do when a kill disposes their isolate.
   */
  static async create(isolate: ivm.Isolate, withFetch: boolean): Promise<FreshContext> {
    const startCpu = isolate.cpuTime;
    const context = await isolate.createContext();
    let fresh: FreshContext | undefined;
    try {
      fresh = new FreshContext(isolate, context, startCpu, withFetch);
      await context.evalClosure(SET_BRIDGES, [...fresh.bridges]);
      return fresh;
    } catch (err) {
      if (fresh) fresh.release();
      else quietly(() => context.release());
      throw err;
    }
  }

  /** Runs the prelude and the main; `timeout` bounds the synchronous load (isolated-vm's own limit). */
  async load(script: RunScript, timeout: number): Promise<void> {
    await runRunScript(script, this.context, timeout);
    this.loadCpuNs = this.isolate.cpuTime - this.startCpu;
    if (!this.handlesValue) throw new Error('the isolate prelude did not register its handles');
  }

  get handles(): PreludeHandles | null {
    return this.released ? null : this.handlesValue;
  }

  /** Hands the context to its one run and replays what the main did while it loaded. */
  bind(binding: ContextBinding): void {
    if (this.binding || this.released) throw new Error('a context serves one run only');
    this.binding = binding;
    const early = this.early;
    this.early = [];
    for (const call of early) call(binding);
  }

  /** Everything of the context goes; its bridges ignore whatever still arrives. Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.binding = null;
    this.early = [];
    const handles = this.handlesValue;
    this.handlesValue = null;
    for (const ref of [...this.refs, ...(handles ? [handles.run, handles.fire, handles.abort] : [])]) quietly(() => ref.release());
    if (!this.isolate.isDisposed) quietly(() => this.context.release());
  }

  private keep(ref: ivm.Reference): ivm.Reference {
    this.refs.push(ref);
    return ref;
  }

  private forward(call: EarlyCall): void {
    if (this.released) return;
    if (this.binding) {
      call(this.binding);
      return;
    }
    if (this.early.length >= MAX_EARLY_CALLS) throw new Error(`the main made more than ${MAX_EARLY_CALLS} log or timer calls while loading`);
    this.early.push(call);
  }

  private readonly onLog = (level: unknown, message: unknown): void => this.forward((b) => b.log(level, message));

  private readonly onTimer = (op: unknown, id: unknown, delayMs?: unknown, repeat?: unknown): void => this.forward((b) => b.timer(op, id, delayMs, repeat));

  private readonly onCache: CacheBridge = async (op, key, value, ttlMs) => {
    if (this.released) throw new Error('the run has ended: cache is not available');
    if (!this.binding) throw new Error('the cache is not available while the bundle loads');
    return this.binding.cache(op, key, value, ttlMs);
  };

  private readonly onFetch: FetchBridge = async (url, init) => {
    if (this.released) throw new Error('the run has ended: fetch is not available');
    if (!this.binding?.fetch) throw new Error('fetch is not available while the bundle loads');
    return this.binding.fetch(url, init);
  };
}

/**
 * isolated-vm hands a rejection of an async bridge to the isolate, but Node sees the host promise as unhandled
 * first (measured: an unhandledRejection per refused fetch). The job still gets the rejection.
 */
function handled<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) => {
    const promise = fn(...args);
    promise.catch(() => undefined);
    return promise;
  };
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // Releasing into a disposed isolate throws; there is nothing left to release then.
  }
}
