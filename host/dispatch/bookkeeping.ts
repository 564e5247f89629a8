/**
 * What the units of dispatch share: whether the host still takes work, and the bookkeeping promises (row writes,
 * starts, drops) that a stop waits for.
 */
import { serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';

export class Bookkeeping {
  /** False from the moment a stop begins. */
  accepting = true;
  /** Settles when shutdown begins: what waits for the database stops waiting then. */
  readonly stopping: Promise<void>;
  private stopped!: () => void;
  /** Bookkeeping promises still going (see track); a shutdown waits for them. */
  private tracked = 0;
  private readonly untracked: (() => void)[] = [];

  constructor(private readonly logger: Logger) {
    this.stopping = new Promise((resolve) => (this.stopped = resolve));
  }

  stop(): void {
    this.accepting = false;
    this.stopped();
  }

  get pending(): number {
    return this.tracked;
  }

  /**
   * Follows a promise of the run's bookkeeping, so a shutdown can wait for it. A count, not a set of the promises:
   * a set entry and a `finally` closure per promise were garbage made on every fire.
   */
  track(promise: Promise<unknown>): void {
    this.tracked++;
    promise.then(this.untrack, this.trackedFailed);
  }

  allTracked(): Promise<void> {
    if (this.tracked === 0) return Promise.resolve();
    return new Promise((resolve) => this.untracked.push(resolve));
  }

  private readonly untrack = (): void => {
    if (--this.tracked > 0 || this.untracked.length === 0) return;
    for (const resolve of this.untracked.splice(0)) resolve();
  };

  /** Tracked promises catch their own errors; one that does not is logged, never left unhandled. */
  private readonly trackedFailed = (err: unknown): void => {
    this.logger.error('run bookkeeping failed', { error: serializeError(err).message });
    this.untrack();
  };
}
