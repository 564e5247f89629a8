/**
 * A run's abort, watched for the cost of a field written. Node's addEventListener and removeEventListener on an
 * AbortSignal, with their checks, were most of a run's abort hook (bench/abort-cost.ts, bursts of 2,000: a reused
 * controller with a listener 4.1 µs a run, watched here 1.2 µs), of the ~60 µs the host spends on a thread run.
 * Dispatch hands a run's AbortController to the next run once this one is over (dispatch/idle-controllers.ts), so a
 * signal gets ONE listener for its life, put there by its first watchAbort, and each run's watch is a field of it.
 * Every executor watches its run's signal this way.
 *
 * Same as a listener added with `{ once: true }`: a watch made after the signal aborted is never called, and each
 * watch is called once at most.
 */

/** A signal's watches: one at a time is the rule (a run holds its signal alone), more are kept in a set. */
interface Watches {
  one: (() => void) | null;
  more: Set<() => void> | null;
}

const watches = new WeakMap<AbortSignal, Watches>();
/** The listeners put here, one per signal: dispatch's idle controllers do not count them as a run's (see watching). */
const ownListeners = new WeakSet<object>();

/** Calls `onAborted` when `signal` aborts; the function returned stops the watch (call it when the run is over). */
export function watchAbort(signal: AbortSignal, onAborted: () => void): () => void {
  let found = watches.get(signal);
  if (!found) {
    const made: Watches = { one: null, more: null };
    found = made;
    watches.set(signal, made);
    const listener = (): void => callAll(made);
    ownListeners.add(listener);
    signal.addEventListener('abort', listener, { once: true });
  }
  const watch = found;
  if (watch.one === null) watch.one = onAborted;
  else (watch.more ??= new Set()).add(onAborted);
  return () => {
    if (watch.one === onAborted) watch.one = null;
    else watch.more?.delete(onAborted);
  };
}

/** Every watch once; a watch that throws does not keep the others from being called (the first error is thrown). */
function callAll(watch: Watches): void {
  const due = watch.one ? [watch.one, ...(watch.more ?? [])] : [...(watch.more ?? [])];
  watch.one = null;
  watch.more = null;
  let failure: { err: unknown } | null = null;
  for (const call of due) {
    try {
      call();
    } catch (err) {
      failure ??= { err };
    }
  }
  if (failure) throw failure.err;
}

/** Watches on `signal` not yet stopped (a controller with any is not handed to another run). */
export function watching(signal: AbortSignal): number {
  const watch = watches.get(signal);
  return watch ? (watch.one ? 1 : 0) + (watch.more?.size ?? 0) : 0;
}

/** The one listener watchAbort put on a signal: it holds nothing of a run once that run's watch is stopped. */
export function isWatchListener(listener: unknown): boolean {
  return typeof listener === 'function' && ownListeners.has(listener);
}
