/**
 * Writes lines to `<dir>/<yyyy-MM>/<yyyy-MM-dd>.log` (UTC), one append stream for the current day. The day is
 * checked on every line instead of by a midnight timer: no timer to leak, and a line is never filed under the wrong
 * day because a timer fired late.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';

export class DayFileSink {
  private stream: WriteStream | null = null;
  private day = '';
  private readonly closing = new Set<Promise<void>>();
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
    if (day !== this.day || !this.stream) this.switchTo(day, at);
    this.stream?.write(line + '\n');
  }

  /** Flushes and closes the open file. */
  async close(): Promise<void> {
    this.closed = true;
    this.retire();
    await Promise.all([...this.closing]);
  }

  private switchTo(day: string, at: Date): void {
    this.retire();
    this.day = day;
    try {
      const file = this.fileFor(at);
      mkdirSync(path.dirname(file), { recursive: true });
      const stream = createWriteStream(file, { flags: 'a' });
      stream.on('error', (err) => {
        this.lastError = err;
      });
      this.stream = stream;
    } catch (err) {
      this.lastError = err as Error;
      this.stream = null;
    }
  }

  /** Ends the current stream; close() waits for every retired stream to be flushed. */
  private retire(): void {
    const stream = this.stream;
    this.stream = null;
    if (!stream) return;
    const done: Promise<void> = new Promise<void>((resolve) => {
      if (stream.closed) return resolve();
      stream.once('close', () => resolve());
      stream.end();
    }).then(() => {
      this.closing.delete(done);
    });
    this.closing.add(done);
  }
}
