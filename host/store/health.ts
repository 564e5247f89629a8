/**
 * Whether the database answers. A statement that fails because the database cannot be reached (connection refused or
 * lost, the server shutting down, SQLite's file locked past the busy timeout, unreadable or its disk full) marks it
 * down; a statement that is wrong does not. While it is down, one probe a second (the dialect's healthProbe) finds when
 * it is back, and whoever waits for it (the run writer, dispatch's catch-up of unrecorded fires, readiness) hears of it.
 */
import { serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { errorChain } from './driver.js';

export interface DatabaseHealth {
  readonly up: boolean;
  /** When the current outage began; null while the database answers. */
  readonly downSince: Date | null;
  /** What the last failure said (kept after the outage, for the log and readiness). */
  readonly lastError: string | null;
  /** A statement failed: marks the database down when err is an unavailability, and says whether it was. */
  failed(err: unknown): boolean;
  /** Resolves when the database answers again (at once while it does). */
  whenUp(): Promise<void>;
  /** Called with true when it comes back, false when it goes down. */
  onChange(listener: (up: boolean) => void): void;
}

/** mysql2 and node's socket errors, MariaDB's server errors, sqlite3's result codes: "cannot reach the database". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'ER_NORMAL_SHUTDOWN', 'ER_SHUTDOWN_COMPLETE', 'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED', 'ER_TOO_MANY_USER_CONNECTIONS', 'ER_OUT_OF_RESOURCES',
  'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PROTOCOL',
]);
/** sequelize's wrappers of a failed connect. */
const UNAVAILABLE_NAMES = new Set([
  'SequelizeConnectionError', 'SequelizeConnectionRefusedError', 'SequelizeConnectionAcquireTimeoutError',
  'SequelizeConnectionTimedOutError', 'SequelizeHostNotReachableError', 'SequelizeHostNotFoundError',
]);
/** mysql2 says these without a code. */
const UNAVAILABLE_MESSAGE = /connection is in closed state|connection lost|server has gone away|lost connection|Connection refused/i;

export function isUnavailableError(err: unknown): boolean {
  for (const { code, name, message } of errorChain(err)) {
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (typeof name === 'string' && UNAVAILABLE_NAMES.has(name)) return true;
    if (typeof message === 'string' && (UNAVAILABLE_MESSAGE.test(message) || /^SQLITE_(BUSY|IOERR|FULL|CANTOPEN|READONLY)\b/.test(message))) {
      return true;
    }
  }
  return false;
}

export class StoreHealth implements DatabaseHealth {
  #up = true;
  #downSince: Date | null = null;
  #lastError: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #waiting: (() => void)[] = [];
  readonly #listeners: ((up: boolean) => void)[] = [];

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly logger: Logger,
    private readonly probeEveryMs = 1_000,
  ) {}

  get up(): boolean {
    return this.#up;
  }

  get downSince(): Date | null {
    return this.#downSince;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  failed(err: unknown): boolean {
    if (!isUnavailableError(err)) return false;
    this.#lastError = serializeError(err).message;
    if (!this.#up || this.#closed) return true;
    this.#up = false;
    this.#downSince = new Date();
    this.logger.error('the database cannot be reached; runs are kept in memory and fires counted until it answers', { error: this.#lastError });
    this.#emit(false);
    this.#schedule();
    return true;
  }

  whenUp(): Promise<void> {
    if (this.#up || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  onChange(listener: (up: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** Stops probing; whoever waits for the database is let go (the store is closing). */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#release();
  }

  #schedule(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.probe().then(
        () => this.#back(),
        (err: unknown) => {
          this.#lastError = serializeError(err).message;
          this.#schedule();
        },
      );
    }, this.probeEveryMs);
    this.#timer.unref();
  }

  #back(): void {
    if (this.#up) return;
    const downMs = Date.now() - (this.#downSince?.getTime() ?? Date.now());
    this.#up = true;
    this.#downSince = null;
    this.logger.warn('the database answers again', { downMs });
    this.#release();
    this.#emit(true);
  }

  #release(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }

  #emit(up: boolean): void {
    for (const listener of this.#listeners) {
      try {
        listener(up);
      } catch (err) {
        this.logger.error('a database health listener failed', { error: serializeError(err).message });
      }
    }
  }
}
