/**
 * Idle AbortControllers, so a burst of runs does not make one per run: a new AbortController and its signal cost
 * about 10 µs here, a reused one about 1.5 µs (bench/abort-cost.ts, docs/benchmarks.md). A controller comes back
 * only when reusing it cannot be seen: never aborted, and no listener left on its signal. Node does not say how many
 * listeners a signal has, so the signals made here count their own (addEventListener and removeEventListener are
 * wrapped on each signal); a signal whose `onabort` was set, or that a listener still holds, is not taken back.
 */
export class IdleControllers {
  readonly #idle: CountedController[] = [];
  readonly #cap: number;

  constructor(cap = 4096) {
    this.#cap = cap;
  }

  /** An AbortController that was never aborted and has no listener. */
  take(): AbortController {
    return this.#idle.pop() ?? new CountedController();
  }

  /** Takes a controller back once its run is over (and nothing may abort it any more); others are left to the GC. */
  give(controller: AbortController): void {
    if (!(controller instanceof CountedController) || this.#idle.length >= this.#cap) return;
    if (controller.signal.aborted || controller.listening !== 0 || controller.signal.onabort !== null) return;
    this.#idle.push(controller);
  }

  /** Idle controllers held (tests). */
  get size(): number {
    return this.#idle.length;
  }
}

const { addEventListener: addListener, removeEventListener: removeListener } = EventTarget.prototype;

class CountedController extends AbortController {
  /** Listeners on the signal: per listener, the event types and phases it is registered for. */
  readonly #listeners = new Map<unknown, Set<string>>();
  #count = 0;

  constructor() {
    super();
    const signal = this.signal;
    signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
      if (args[1]) this.#note(args[1], args[0], args[2], true);
      addListener.apply(signal, args);
    };
    signal.removeEventListener = (...args: Parameters<AbortSignal['removeEventListener']>) => {
      if (args[1]) this.#note(args[1], args[0], args[2], false);
      removeListener.apply(signal, args);
    };
  }

  get listening(): number {
    return this.#count;
  }

  #note(listener: unknown, type: string, options: { capture?: boolean } | boolean | undefined, added: boolean): void {
    const capture = typeof options === 'boolean' ? options : options?.capture === true;
    const key = `${type}:${capture}`;
    let keys = this.#listeners.get(listener);
    if (added) {
      if (!keys) this.#listeners.set(listener, (keys = new Set()));
      if (!keys.has(key)) {
        keys.add(key);
        this.#count++;
      }
    } else if (keys?.delete(key)) {
      this.#count--;
      if (keys.size === 0) this.#listeners.delete(listener);
    }
  }
}
