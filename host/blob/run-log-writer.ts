/**
 * The log of one running run. Lines stay in memory (capped: head + tail) until end(), which appends them to the day
 * file as one chunk. A run that goes on for a while or logs a lot also spills to `live/<runId>.log` as lines come, so
 * a kill -9 of the host leaves something for recover() to find. A run that logs nothing never touches the disk.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { LogLevel } from '@jobcenter/job-api';
import type { Logger } from '../log/logger.js';
import { CappedLog } from './run-log-buffer.js';
import type { DayFiles, LogIndex } from './run-log-day-files.js';

export interface RunLogWriter {
  /** Never throws; formats one line: `<ISO time> <LEVEL> [<runId>] <message>`. Ignored after end(). */
  write(level: LogLevel, message: string, at?: Date): void;
  /** Ends the run's log: appends its chunk to the day file and returns its index, or null when the run logged nothing. */
  end(): Promise<LogIndex | null>;
}

export interface WriterOptions {
  runId: string;
  startedAt: Date;
  maxBytes: number;
  spillAfterMs: number;
  spillAfterBytes: number;
  /** Absolute path of `live/<runId>.log`. */
  spillPath: string;
  dayFiles: DayFiles;
  logger: Logger;
  /** Called once the writer is done (ended or failed), so the store forgets it. */
  onDone(): void;
}

interface Follower {
  onLine(line: string): void;
  onEnd(): void;
}

export function overCapNote(maxBytes: number): string {
  return `… [over the cap of ${maxBytes} bytes: the rest was kept in memory until the run ended] …`;
}

export class LiveRunLog implements RunLogWriter {
  /** Made on the first line or follower: a silent run (most runs) costs no buffer. */
  private buffer: CappedLog | null = null;
  private followers: Set<Follower> | null = null;
  private spill: WriteStream | null = null;
  /** Once the log is over the cap the spill file gets no more lines (the tail lives in memory). */
  private spillStopped = false;
  private spillTimer: NodeJS.Timeout | null = null;
  private ending: Promise<LogIndex | null> | null = null;
  private readonly openedAt = Date.now();

  constructor(private readonly opts: WriterOptions) {}

  private get log(): CappedLog {
    return (this.buffer ??= new CappedLog(this.opts.maxBytes));
  }

  get ended(): boolean {
    return this.ending !== null;
  }

  /** The capped text so far. */
  text(): string {
    return this.buffer?.text() ?? '';
  }

  write(level: LogLevel, message: string, at?: Date): void {
    if (this.ending) return;
    try {
      const when = at instanceof Date && !Number.isNaN(at.getTime()) ? at : new Date();
      const line = `${when.toISOString()} ${String(level).toUpperCase()} [${this.opts.runId}] ${String(message)}`;
      const wasCut = this.log.isCut;
      const wasEmpty = this.log.isEmpty;
      const kept = this.log.add(line);
      if (this.spill && !this.spillStopped) this.appendToSpill(kept, wasCut);
      else if (!this.spill) this.maybeSpill(wasEmpty);
      this.notify(kept);
    } catch (err) {
      this.opts.logger.warn('run log line dropped', { runId: this.opts.runId, error: String(err) });
    }
  }

  subscribe(onLine: (line: string) => void, onEnd: () => void): () => void {
    const follower: Follower = { onLine, onEnd };
    if (this.ending) {
      queueMicrotask(() => this.call(() => onEnd()));
      return () => {};
    }
    const followers = (this.followers ??= new Set());
    followers.add(follower);
    return () => {
      followers.delete(follower);
    };
  }

  end(): Promise<LogIndex | null> {
    if (!this.ending) this.ending = this.finish();
    return this.ending;
  }

  private async finish(): Promise<LogIndex | null> {
    if (this.spillTimer) clearTimeout(this.spillTimer);
    this.spillTimer = null;
    try {
      if (!this.buffer || this.buffer.isEmpty) return null;
      const index = await this.opts.dayFiles.append(this.opts.startedAt, Buffer.from(this.log.text()));
      await this.removeSpill();
      return index;
    } catch (err) {
      // The spill file (if any) stays for recover(); the stream must still be closed so no handle leaks.
      await this.closeSpill();
      throw err;
    } finally {
      this.opts.onDone();
      const followers = this.followers ? [...this.followers] : [];
      this.followers?.clear();
      for (const f of followers) this.call(() => f.onEnd());
    }
  }

  private maybeSpill(wasEmpty: boolean): void {
    if (this.log.bytesAdded > this.opts.spillAfterBytes) return this.startSpill();
    if (!wasEmpty) return;
    const due = this.openedAt + this.opts.spillAfterMs - Date.now();
    if (due <= 0) return this.startSpill();
    // The timer exists only for runs that logged something; silent runs never get one.
    this.spillTimer = setTimeout(() => {
      this.spillTimer = null;
      if (!this.ending && !this.spill) this.startSpill();
    }, due);
    this.spillTimer.unref();
  }

  private startSpill(): void {
    if (this.spillTimer) clearTimeout(this.spillTimer);
    this.spillTimer = null;
    mkdirSync(path.dirname(this.opts.spillPath), { recursive: true });
    const stream = createWriteStream(this.opts.spillPath, { flags: 'w' });
    stream.on('error', (err) => {
      this.opts.logger.warn('run log spill failed; keeping the log in memory only', {
        runId: this.opts.runId,
        error: err.message,
      });
      this.spillStopped = true;
    });
    this.spill = stream;
    const lines = this.log.isCut
      ? [...this.log.headLines(), overCapNote(this.opts.maxBytes)]
      : [...this.log.headLines(), ...this.log.tailLines()];
    this.spillStopped = this.log.isCut;
    stream.write(lines.join('\n') + '\n');
  }

  private appendToSpill(line: string, wasCut: boolean): void {
    const spill = this.spill as WriteStream;
    if (!wasCut && this.log.isCut) {
      spill.write(overCapNote(this.opts.maxBytes) + '\n');
      this.spillStopped = true;
      return;
    }
    spill.write(line + '\n');
  }

  private async removeSpill(): Promise<void> {
    if (!this.spill) return;
    await this.closeSpill();
    await unlink(this.opts.spillPath).catch(() => undefined);
  }

  private closeSpill(): Promise<void> {
    const spill = this.spill;
    if (!spill || spill.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      spill.once('close', () => resolve());
      spill.end();
    });
  }

  private notify(line: string): void {
    if (this.followers) for (const f of this.followers) this.call(() => f.onLine(line));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.logger.warn('run log follower threw', { runId: this.opts.runId, error: String(err) });
    }
  }
}
