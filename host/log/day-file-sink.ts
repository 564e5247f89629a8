/**
 * Writes lines to `<dir>/<yyyy-MM>/<yyyy-MM-dd>.log` (UTC), one file open for appending for the current day. The day
 * is checked on every line instead of by a midnight timer: no timer to leak, and a line is never filed under the
 * wrong day because a timer fired late.
 *
 * Each line is written at once with one write(2) on the file (the host logs events, not job output: a few lines a
 * second at most). Nothing is buffered, so a line is in the file when the call returns, a crash loses none, and
 * closing is one close(2): a write stream's end and close went through libuv's thread pool and took ~0.7 ms of every
 * host stop.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

export class DayFileSink {
  private fd: number | null = null;
  private day = '';
  private closed = false;
  /** The last write error, if any (a logger has nowhere to report its own failures). */
  lastError: Error | null = null;

  constructor(private readonly dir: string) {}

  /** The file lines written at `at` go to. */
  fileFor(at: Date): string {
    const iso = at.toISOString();
    return path.join(this.dir, iso.slice(0, 7), `${iso.slice(0, 10)}.log`);
  }

  write(line: string, at: Date): void {
    if (this.closed) return;
    const day = at.toISOString().slice(0, 10);
    if (day !== this.day || this.fd === null) this.switchTo(day, at);
    if (this.fd === null) return;
    try {
      writeSync(this.fd, line + '\n');
    } catch (err) {
      this.lastError = err as Error;
    }
  }

  /** Closes the open file (every line is in it already). */
  async close(): Promise<void> {
    this.closed = true;
    this.retire();
  }

  private switchTo(day: string, at: Date): void {
    this.retire();
    this.day = day;
    try {
      const file = this.fileFor(at);
      mkdirSync(path.dirname(file), { recursive: true });
      this.fd = openSync(file, 'a');
    } catch (err) {
      this.lastError = err as Error;
    }
  }

  private retire(): void {
    const fd = this.fd;
    this.fd = null;
    if (fd === null) return;
    try {
      closeSync(fd);
    } catch (err) {
      this.lastError = err as Error;
    }
  }
}
