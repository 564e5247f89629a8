/**
 * Inside a worker: what a run leaves running goes with it. Its timers (setTimeout, setInterval, setImmediate, the
 * node:timers exports and the node:timers/promises forms) still pending at its end are cleared, and its child
 * processes are ended (executors/exec/worker-children.ts); its log gets one line for each, so its author learns why.
 *
 * The worker replaces those globals and exports once, before the bundle is imported (trackLeftovers): job code
 * only ever sees the tracking ones. A timer belongs to the run whose code created it (AsyncLocalStorage, through
 * `current`); one created outside any run (at module load, by a bean's factory) belongs to none and stays, and so
 * does one that Node's own code creates inside a run (fetch keeps pooled timers across runs). A run that creates no
 * timer and spawns nothing costs one failed lookup at its end.
 *
 * This module holds the worker's state (one set of globals per worker realm): the worker's entry is its root.
 */
import { syncBuiltinESMExports } from 'node:module';
import timers from 'node:timers';
import timersPromises from 'node:timers/promises';
import { promisify } from 'node:util';
import { containChildren, type RunChildren } from '../exec/worker-children.js';
import { settle } from './worker-primordials.js';

type Timer = NodeJS.Timeout | NodeJS.Immediate;
/** Timer → whether it is an immediate, for the timers of one run still pending. */
type RunTimers = Map<Timer, boolean>;

const { apply, defineProperty } = Reflect;
const { captureStackTrace } = Error;
const anySignal = AbortSignal.any;
const mapOps = { set: Map.prototype.set, delete: Map.prototype.delete, forEach: Map.prototype.forEach };
const abortController = AbortController.prototype.abort;
const clearTimeoutOriginal = clearTimeout;
const clearImmediateOriginal = clearImmediate;
const weakOps = { get: WeakMap.prototype.get, set: WeakMap.prototype.set, delete: WeakMap.prototype.delete };
const call = <R>(method: (...args: never[]) => R, target: object, ...args: unknown[]): R => apply(method, target, args) as R;

/** The set of run timers a pending timer is listed in, so that clearing it from anywhere unlists it. */
const OWNER = Symbol('jobcenter.runTimers');

interface RunLeftovers {
  timers: RunTimers | null;
  /** Aborts the run's pending node:timers/promises timers. */
  promiseAbort: AbortController | null;
  pendingPromises: number;
  children: RunChildren | null;
}

/** What leftovers need of a run's channel (worker-context.ts RunChannel is one): its id, and its log for the warnings. */
export interface LeftoverRun {
  readonly context: { readonly runId: string };
  log(level: 'warn', message: string): void;
}

const byRun = new WeakMap<LeftoverRun, RunLeftovers>();
let installed = false;

function leftoversOf(run: LeftoverRun): RunLeftovers {
  let record = call(weakOps.get, byRun, run) as RunLeftovers | undefined;
  if (record === undefined) {
    record = { timers: null, promiseAbort: null, pendingPromises: 0, children: null };
    call(weakOps.set, byRun, run, record);
  }
  return record;
}

/**
 * Whether the code that called `wrapper` is Node's own (a `node:` file). One structured stack frame: about a
 * microsecond, paid only by timers created inside a run. What job code did to Error makes it answer no.
 */
function calledByNode(wrapper: (...args: never[]) => unknown): boolean {
  const { stackTraceLimit, prepareStackTrace } = Error;
  try {
    Error.stackTraceLimit = 1;
    Error.prepareStackTrace = (_error, sites) => sites;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    captureStackTrace(holder, wrapper);
    const file = holder.stack?.[0]?.getFileName();
    return typeof file === 'string' && file.startsWith('node:');
  } catch {
    return false;
  } finally {
    try {
      Error.stackTraceLimit = stackTraceLimit;
      Error.prepareStackTrace = prepareStackTrace;
    } catch {
      // A frozen Error: nothing was changed either.
    }
  }
}

/**
 * Replaces the worker's timer globals, node:timers and node:timers/promises exports and ChildProcess spawning.
 * `current`: the channel of the run whose code is executing, or null. Call once, before the bundle is imported.
 */
export function trackLeftovers(current: () => LeftoverRun | null): void {
  if (installed) return;
  installed = true;
  const original = { setTimeout, setInterval, setImmediate, clearTimeout, clearInterval, clearImmediate };

  const schedule = (create: (...args: never[]) => unknown, immediate: boolean, repeats: boolean) =>
    function tracked(this: unknown, callback: unknown, ...rest: unknown[]): Timer {
      const run = typeof callback === 'function' ? current() : null;
      if (run === null || calledByNode(tracked)) return apply(create, this, [callback, ...rest]) as Timer;
      const record = leftoversOf(run);
      const pending = (record.timers ??= new Map());
      let timer: Timer | undefined = undefined;
      // A one-shot timer that fired is no longer pending; an interval stays until cleared.
      const fire = repeats
        ? callback
        : function (this: unknown, ...args: unknown[]): unknown {
            if (timer) call(mapOps.delete, pending, timer);
            return apply(callback as (...args: unknown[]) => unknown, this, args);
          };
      timer = apply(create, this, [fire, ...rest]) as Timer;
      call(mapOps.set, pending, timer, immediate);
      (timer as unknown as Record<symbol, RunTimers>)[OWNER] = pending;
      return timer;
    };
  const unlisting = (clear: (timer: never) => void) =>
    function clearTracked(this: unknown, timer: unknown): void {
      const owner = timer !== null && typeof timer === 'object' ? (timer as Record<symbol, RunTimers | undefined>)[OWNER] : undefined;
      if (owner) call(mapOps.delete, owner, timer);
      apply(clear, this, [timer]);
    };
  const withRunSignal = (create: (...args: never[]) => unknown, optionsAt: number, counted: boolean) =>
    function trackedPromise(this: unknown, ...args: unknown[]): unknown {
      const run = current();
      if (run === null || calledByNode(trackedPromise)) return apply(create, this, args);
      const record = leftoversOf(run);
      const runSignal = (record.promiseAbort ??= new AbortController()).signal;
      const options = (args[optionsAt] ?? {}) as { signal?: AbortSignal };
      const signal = options.signal ? apply(anySignal, AbortSignal, [[options.signal, runSignal]]) : runSignal;
      const withSignal = [...args];
      withSignal[optionsAt] = { ...options, signal };
      const result = apply(create, this, withSignal);
      if (counted) {
        record.pendingPromises++;
        const done = () => void record.pendingPromises--;
        settle(result as Promise<unknown>, done, done);
      }
      return result;
    };

  const promises = {
    setTimeout: withRunSignal(timersPromises.setTimeout, 2, true),
    setImmediate: withRunSignal(timersPromises.setImmediate, 1, true),
    setInterval: withRunSignal(timersPromises.setInterval, 2, false),
  };
  const globals = {
    setTimeout: schedule(original.setTimeout, false, false),
    setInterval: schedule(original.setInterval, false, true),
    setImmediate: schedule(original.setImmediate, true, false),
    clearTimeout: unlisting(original.clearTimeout),
    clearInterval: unlisting(original.clearInterval),
    clearImmediate: unlisting(original.clearImmediate),
  };
  // util.promisify(setTimeout) is the promise form, as with Node's own.
  defineProperty(globals.setTimeout, promisify.custom, { value: promises.setTimeout });
  defineProperty(globals.setImmediate, promisify.custom, { value: promises.setImmediate });
  Object.assign(globalThis, globals);
  Object.assign(timers, globals);
  Object.assign(timersPromises, promises);
  // `import { setTimeout } from 'node:timers'` reads the ESM facade, which follows the CommonJS exports only on this call.
  syncBuiltinESMExports();

  const makeChildren = containChildren(() => {
    const run = current();
    if (run === null) return null;
    const record = leftoversOf(run);
    return (record.children ??= makeChildren(run.context.runId));
  });
}

/** At a run's end: clears its pending timers and ends its child processes, one log line for each that it had. */
export function endRunLeftovers(run: LeftoverRun): void {
  const record = call(weakOps.get, byRun, run) as RunLeftovers | undefined;
  if (record === undefined) return;
  call(weakOps.delete, byRun, run);
  let cleared = 0;
  if (record.timers) {
    call(mapOps.forEach, record.timers, (immediate: boolean, timer: Timer) => {
      // Cleared already by its numeric id (`clearTimeout(+timer)`), which does not find the timer's list.
      if ((timer as { _destroyed?: boolean })._destroyed === true) return;
      apply(immediate ? clearImmediateOriginal : clearTimeoutOriginal, undefined, [timer]);
      cleared++;
    });
  }
  if (record.promiseAbort) {
    cleared += record.pendingPromises;
    call(abortController, record.promiseAbort, new Error('the run has ended'));
  }
  if (cleared > 0) {
    const what = cleared === 1 ? '1 timer' : `${cleared} timers`;
    run.log('warn', `${what} (setTimeout, setInterval or setImmediate) still pending at the run's end cleared: a run's timers do not outlive it`);
  }
  record.children?.end((line) => run.log('warn', line));
}
