/**
 * What an overloaded host says about the fires it could not run on time: fires it dropped (over maxRunsInFlight,
 * while the database was too far behind to take another row, or while it did not answer) and runs that started late. Counted for /metrics,
 * and logged as one warning per window instead of one line per fire (10,000 fires a second would bury the log),
 * then once more when a window passes clean: the host has caught up.
 */
import type { Logger } from '../log/logger.js';

export type DropReason = 'in_flight' | 'row_backlog' | 'db_unavailable';

/** A run that starts this long after its fire time counts as late. */
export const LATE_MS = 1_000;

/** How often the warning summarises what happened since the last one (default). */
const WINDOW_MS = 5_000;

interface Window {
  dropped: Record<DropReason, number>;
  late: number;
  maxLagMs: number;
}

const emptyWindow = (): Window => ({ dropped: { in_flight: 0, row_backlog: 0, db_unavailable: 0 }, late: 0, maxLagMs: 0 });

export class FireReport {
  readonly dropped: Record<DropReason, number> = { in_flight: 0, row_backlog: 0, db_unavailable: 0 };
  late = 0;
  private window = emptyWindow();
  private timer: NodeJS.Timeout | null = null;
  /** When the current overload began (ms), null while the host keeps up. */
  private since: number | null = null;
  private droppedSince = 0;
  private lateSince = 0;

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = WINDOW_MS,
  ) {}

  get overloaded(): boolean {
    return this.since !== null;
  }

  noteDropped(reason: DropReason, count = 1): void {
    this.dropped[reason] += count;
    this.window.dropped[reason] += count;
    this.droppedSince += count;
    this.begin();
  }

  /** Called for every started run with its lag; only a late one costs more than a compare. */
  noteStart(lagMs: number): void {
    if (lagMs < LATE_MS) return;
    this.late++;
    this.lateSince++;
    this.window.late++;
    if (lagMs > this.window.maxLagMs) this.window.maxLagMs = lagMs;
    this.begin();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private begin(): void {
    if (this.since !== null) return;
    this.since = Date.now();
    this.timer = setInterval(() => this.summarise(), this.windowMs);
    this.timer.unref();
  }

  private summarise(): void {
    const w = this.window;
    this.window = emptyWindow();
    if (w.dropped.in_flight + w.dropped.row_backlog + w.dropped.db_unavailable + w.late > 0) {
      this.logger.warn('host overloaded: scheduled fires dropped or started late', {
        windowMs: this.windowMs,
        droppedOverMaxRunsInFlight: w.dropped.in_flight,
        droppedWhileRowsBacklogged: w.dropped.row_backlog,
        droppedWhileDatabaseDown: w.dropped.db_unavailable,
        startedLate: w.late,
        maxLagMs: Math.round(w.maxLagMs),
      });
      return;
    }
    this.logger.warn('host caught up after an overload', {
      overloadMs: Date.now() - (this.since ?? Date.now()) - this.windowMs,
      dropped: this.droppedSince,
      startedLate: this.lateSince,
    });
    this.stop();
    this.since = null;
    this.droppedSince = 0;
    this.lateSince = 0;
  }
}
