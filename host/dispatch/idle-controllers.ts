/**
 * Idle AbortControllers, so a burst of runs does not make one per run: making a controller's signal is most of what
 * a run's abort hook costs (bench/abort-cost.ts, docs/benchmarks.md: bursts of 2,000, a new controller with its
 * listener 13.5–14.7 µs a run, a reused one 10.3–11.2 µs, most of that Node's listener add and remove). One comes back
 * only when reusing it cannot be seen: never aborted, and no listener left on its signal. Node does not say how many
 * listeners a signal has, so the signals made here count their own (addEventListener and removeEventListener are
 * wrapped on each signal); a signal that a listener still holds is not taken back. An `onabort` handler counts too:
 * Node's setter adds the handler's own listener through the signal's addEventListener, and keeps it there even after
 * the handler is cleared, so a signal that ever had one is never handed on (test/dispatch/idle-controllers.test.ts).
 * Executors watch a signal through watchAbort (abort-watch.ts), which leaves ONE listener on it for its life: that one
 * is not counted, its watches are (a controller a run still watches is not taken back either).
 */
import { isWatchListener, watching } from '../executors/shared/abort-watch.js';

export class IdleControllers {
  readonly #idle: CountedController[] = [];
  readonly #cap: number;
  /** Counted controllers alive (idle or held by a run): past the cap, a run gets a plain one, which costs less to make. */
  #made = 0;

  constructor(cap = 4096) {
    this.#cap = cap;
  }

  /** An AbortController that was never aborted and has no listener. */
  take(): AbortController {
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#made >= this.#cap) return new AbortController();
    this.#made++;
    return new CountedController();
  }

  /**
   * Takes a controller back once its run is over (and nothing may abort it any more); others are left to the GC.
   * `aborted`: whether the run aborted it, as the run knows (reading the signal's getters again costs every run).
   */
  give(controller: AbortController, aborted = controller.signal.aborted): void {
    if (!(controller instanceof CountedController)) return;
    if (aborted || controller.listening !== 0 || watching(controller.watched) !== 0) this.#made--;
    else this.#idle.push(controller);
  }

  /** Idle controllers held (tests). */
  get size(): number {
    return this.#idle.length;
  }
}

type Listener = Parameters<AbortSignal['addEventListener']>[1];
type ListenerOptions = Parameters<AbortSignal['addEventListener']>[2];
const { addEventListener: addListener, removeEventListener: removeListener } = EventTarget.prototype;

class CountedController extends AbortController {
  /** Listeners on the signal: per listener, the event types and phases it is registered for. */
  readonly #listeners = new Map<unknown, Set<string>>();
  #count = 0;
  /** The signal, kept for give() (the `signal` getter runs Node's checks on every read). */
  readonly watched: AbortSignal;

  constructor() {
    super();
    const signal = this.signal;
    this.watched = signal;
    signal.addEventListener = (type: string, listener: Listener, options?: ListenerOptions) => {
      if (listener && !isWatchListener(listener)) this.#note(listener, type, options, true);
      addListener.call(signal, type, listener, options);
    };
    signal.removeEventListener = (type: string, listener: Listener, options?: ListenerOptions) => {
      if (listener && !isWatchListener(listener)) this.#note(listener, type, options, false);
      removeListener.call(signal, type, listener, options);
    };
  }

  get listening(): number {
    return this.#count;
  }

  #note(listener: unknown, type: string, options: ListenerOptions, added: boolean): void {
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
