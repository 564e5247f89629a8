/**
 * Inside a worker: the cap and the rate limit of one run's log, applied before a line crosses to the host, so one
 * job's flood never reaches the host's event loop. The host keeps a run's log as a head and a tail
 * (blob/run-log-buffer.ts); the gate keeps the same shape on the worker's side:
 *
 * - the head: lines are sent as they come, while the run's head budget (half the cap) lasts and within the rate
 *   limit (a token bucket of LOG_BURST_BYTES refilled at LOG_RATE_BYTES_PER_S);
 * - a line over the rate, or once the head is spent, waits in a ring of the most recent lines (the other half of
 *   the cap); the oldest waiting line is dropped to make room, and counted;
 * - waiting lines leave when the rate allows again (checked at the run's next line) while the head lasts and
 *   nothing was dropped; once a line was dropped they are the tail, and leave when the run ends or is aborted,
 *   after a marker line that says how many lines and bytes were dropped and why.
 *
 * So a run sends at most about its cap, whatever it logs, and what it drops is always the middle. Written with the
 * built-ins taken before job code ran (worker-primordials.ts): job code may change Array.prototype and the like.
 */
import type { LogLevel } from '@jobcenter/job-api';
import { clipText, count } from './wire-limits.js';
import { now, SafeMap, utf8Length } from './worker-primordials.js';

/** What the host adds to each line (`<ISO time> <LEVEL> [<runId>] ` and the newline), counted against the cap. */
const LINE_OVERHEAD = 72;
/** Room kept in each half for the marker lines. */
const MARKER_ROOM = 512;
/** The rate limit of one run's log: bytes per second (a line also costs LINE_OVERHEAD, so ~3,600 short lines/s). */
export const LOG_RATE_BYTES_PER_S = 262_144;
/** How much a run may log at once before the rate applies. */
export const LOG_BURST_BYTES = 262_144;

/** Taken at load, before job code runs. */
const { max, min } = Math;

export type SendLine = (level: LogLevel, message: string) => void;

interface Waiting {
  readonly level: LogLevel;
  readonly text: string;
  readonly cost: number;
}

export class RunLogGate {
  #headLeft: number;
  readonly #tailMax: number;
  readonly #lineMax: number;
  readonly #capBytes: number;
  readonly #send: SendLine;
  readonly #ring = new SafeMap<number, Waiting>();
  #first = 0;
  #next = 0;
  #ringBytes = 0;
  #tokens = LOG_BURST_BYTES;
  #refilledAt = now();
  /**
   * Once a line was dropped, the waiting lines are the tail: they leave only at the end (or abort), after one
   * marker, instead of a marker every time the rate lets a few through.
   */
  #holding = false;
  /** Lines dropped since the last marker. */
  #dropped = { lines: 0, bytes: 0 };

  /** `capBytes`: the run's log cap (the host's runLogMaxBytes); Infinity for a log with a rate limit only. */
  constructor(capBytes: number, send: SendLine, tailBytes = capBytes / 2) {
    const half = capBytes / 2;
    this.#capBytes = capBytes;
    this.#headLeft = half - MARKER_ROOM;
    this.#tailMax = tailBytes - MARKER_ROOM;
    this.#lineMax = max(64, min(this.#tailMax, half) - LINE_OVERHEAD);
    this.#send = send;
  }

  log(level: LogLevel, message: string): void {
    const text = clipText(message, this.#lineMax);
    const cost = utf8Length(text) + LINE_OVERHEAD;
    if (this.#next === this.#first && cost <= this.#headLeft && this.#take(cost)) {
      this.#headLeft -= cost;
      this.#send(level, text);
      return;
    }
    this.#wait({ level, text, cost });
    this.#drain(false);
  }

  /** Sends every waiting line now, after the marker (the run ended or was aborted). */
  flush(): void {
    this.#drain(true);
  }

  #wait(line: Waiting): void {
    this.#ring.set(this.#next++, line);
    this.#ringBytes += line.cost;
    while (this.#ringBytes > this.#tailMax && this.#next - this.#first > 1) {
      const oldest = this.#ring.get(this.#first)!;
      this.#ring.delete(this.#first++);
      this.#ringBytes -= oldest.cost;
      this.#holding = true;
      this.#dropped.lines += 1;
      this.#dropped.bytes += oldest.cost - LINE_OVERHEAD;
    }
  }

  #drain(all: boolean): void {
    if (!all && this.#holding) return;
    while (this.#next > this.#first) {
      const line = this.#ring.get(this.#first)!;
      if (!all) {
        if (line.cost > this.#headLeft || !this.#take(line.cost)) return;
        this.#headLeft -= line.cost;
      }
      this.#marker();
      this.#ring.delete(this.#first++);
      this.#ringBytes -= line.cost;
      this.#send(line.level, line.text);
    }
    if (all) this.#marker();
  }

  #marker(): void {
    const dropped = this.#dropped;
    if (dropped.lines === 0) return;
    const limits = this.#capBytes === Infinity ? '' : `its log cap of ${count(this.#capBytes)} bytes or `;
    this.#send(
      'warn',
      `… [jobcenter: ${count(dropped.lines)} lines (${count(dropped.bytes)} bytes) of this run's log were dropped in its worker: over ${limits}its rate limit of ${count(LOG_RATE_BYTES_PER_S)} bytes/s] …`,
    );
    this.#dropped = { lines: 0, bytes: 0 };
  }

  #take(cost: number): boolean {
    if (this.#tokens < cost) {
      const at = now();
      this.#tokens = min(LOG_BURST_BYTES, this.#tokens + ((at - this.#refilledAt) * LOG_RATE_BYTES_PER_S) / 1000);
      this.#refilledAt = at;
      if (this.#tokens < cost) return false;
    }
    this.#tokens -= cost;
    return true;
  }
}
