/**
 * Day files of finished run logs: `runs/<yyyy-MM>/<dd>/runs-<n>.log` under the store's folder. Each finished run
 * is appended as one contiguous chunk and addressed by (file, offset, length). Appends to one day folder go through
 * one queue: whatever piles up while a write is in flight is written in the next batch (one open, one stat, one
 * append per file), so many runs ending at once cost a few syscalls and their chunks never interleave.
 */
import { mkdir, open, readdir } from 'node:fs/promises';
import path from 'node:path';

export interface LogIndex {
  /** Relative to the store's folder, with forward slashes. */
  file: string;
  offset: number;
  length: number;
}

interface Pending {
  chunk: Buffer;
  resolve(index: LogIndex): void;
  reject(err: unknown): void;
}

interface DayState {
  /** The file number appends go to; discovered from the folder on first use. */
  current: number | null;
  queue: Pending[];
  flushing: Promise<void> | null;
}

const FILE_RE = /^runs-(\d+)\.log$/;
const INDEX_FILE_RE = /^runs\/\d{4}-\d{2}\/\d{2}\/runs-\d+\.log$/;

/** `runs/2026-11/22` for a run that started on 2026-11-22 (UTC). */
export function dayFolder(startedAt: Date): string {
  const iso = startedAt.toISOString();
  return `runs/${iso.slice(0, 7)}/${iso.slice(8, 10)}`;
}

/** True when `file` is a day file path this store could have written (guards reads against path tricks). */
export function isDayFilePath(file: string): boolean {
  return INDEX_FILE_RE.test(file);
}

export class DayFiles {
  private readonly days = new Map<string, DayState>();

  constructor(
    private readonly dir: string,
    private readonly rollAfterBytes: number,
  ) {}

  /** Appends one run's chunk to the day file of `startedAt` and resolves with where it landed. */
  append(startedAt: Date, chunk: Buffer): Promise<LogIndex> {
    const folder = dayFolder(startedAt);
    let day = this.days.get(folder);
    if (!day) {
      day = { current: null, queue: [], flushing: null };
      this.days.set(folder, day);
    }
    const state = day;
    return new Promise<LogIndex>((resolve, reject) => {
      state.queue.push({ chunk, resolve, reject });
      if (!state.flushing) state.flushing = this.drain(folder, state);
    });
  }

  /** Resolves once every append asked for so far has landed (or failed). */
  async idle(): Promise<void> {
    for (const day of this.days.values()) if (day.flushing) await day.flushing;
  }

  private async drain(folder: string, day: DayState): Promise<void> {
    try {
      while (day.queue.length > 0) {
        const batch = day.queue.splice(0, day.queue.length);
        try {
          await this.writeBatch(folder, day, batch);
        } catch (err) {
          // writeBatch settles what it wrote; whatever is still unsettled failed with this error.
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      day.flushing = null;
    }
  }

  /** Writes the batch into the current file, rolling to the next number once a file has passed the limit. */
  private async writeBatch(folder: string, day: DayState, batch: Pending[]): Promise<void> {
    const absFolder = path.join(this.dir, folder);
    // Every batch: retention may have removed the folder since the last one.
    await mkdir(absFolder, { recursive: true });
    if (day.current === null) day.current = await this.lastFileNumber(absFolder);
    let i = 0;
    while (i < batch.length) {
      const file = `${folder}/runs-${day.current}.log`;
      const fh = await open(path.join(this.dir, file), 'a');
      try {
        let size = (await fh.stat()).size;
        if (size >= this.rollAfterBytes) {
          day.current += 1;
          continue;
        }
        const start = i;
        const placed: LogIndex[] = [];
        while (i < batch.length && (i === start || size < this.rollAfterBytes)) {
          placed.push({ file, offset: size, length: batch[i].chunk.length });
          size += batch[i].chunk.length;
          i += 1;
        }
        await fh.appendFile(Buffer.concat(batch.slice(start, i).map((p) => p.chunk)));
        for (let k = 0; k < placed.length; k++) batch[start + k].resolve(placed[k]);
      } finally {
        await fh.close();
      }
    }
  }

  private async lastFileNumber(absFolder: string): Promise<number> {
    let last = 1;
    for (const name of await readdir(absFolder)) {
      const m = FILE_RE.exec(name);
      if (m) last = Math.max(last, Number(m[1]));
    }
    return last;
  }
}
