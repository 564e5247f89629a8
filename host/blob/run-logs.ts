/**
 * Run logs on the local disk, laid out so that every-second jobs do not drown the file system (the XXL-JOB inode
 * lesson): a run's lines are buffered in memory and, when it ends, appended as ONE chunk to a shared day file
 * `runs/<yyyy-MM>/<dd>/runs-<n>.log`; the run row keeps (file, offset, length) and reading it back is one positioned
 * read. A silent run costs nothing. Long or chatty runs also spill to `live/<runId>.log` so a crash loses little.
 */
import { open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { badRequest, conflict, notFound } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { DayFiles, isDayFilePath, type LogIndex } from './run-log-day-files.js';
import { LiveRunLog, type RunLogWriter } from './run-log-writer.js';

export type { LogIndex } from './run-log-day-files.js';
export type { RunLogWriter } from './run-log-writer.js';

export interface RunLogStoreOptions {
  /** The folder that holds `runs/` (day files) and `live/` (spill files). */
  dir: string;
  maxBytesPerRun: number;
  /** A run still going after this long spills to `live/<runId>.log` (default 2000 ms). */
  spillAfterMs?: number;
  /** A run whose log passes this many bytes spills right away (default 64 KiB). */
  spillAfterBytes?: number;
  /** A day file that has passed this size is left for `runs-<n+1>.log` (default 256 MiB). */
  rollAfterBytes?: number;
  logger: Logger;
}

export interface LiveLog {
  /** The capped text so far. */
  text: string;
  /** onLine gets every line written after `text` was taken; onEnd fires when the run's end() is called. */
  subscribe(onLine: (line: string) => void, onEnd: () => void): () => void;
}

export interface RunLogStore {
  /** Starts the log of a run; `runId` must be a UUID (it becomes a file name). */
  open(runId: string, startedAt: Date): RunLogWriter;
  /** A finished run's log by its index, O(size of that run's log): one positioned read. */
  read(index: LogIndex): Promise<string>;
  /** A running run's live log, or null when that run is not running here. */
  live(runId: string): LiveLog | null;
  /** After a crash: moves the spilled logs of these runs into the day files and returns their indexes; spill files of
   *  other runs are removed. */
  recover(runIds: string[]): Promise<Map<string, LogIndex>>;
  /** Ends every open writer and waits for the day files to be written. */
  close(): Promise<void>;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SPILL_RE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.log$/i;

export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

export function createRunLogStore(opts: RunLogStoreOptions): RunLogStore {
  if (!(opts.maxBytesPerRun > 0)) throw new RangeError('maxBytesPerRun must be positive');
  const logger = opts.logger.child({ component: 'run-logs' });
  const dayFiles = new DayFiles(opts.dir, opts.rollAfterBytes ?? 256 * 1024 * 1024);
  const running = new Map<string, LiveRunLog>();
  const liveDir = path.join(opts.dir, 'live');
  let closed = false;

  function openWriter(runId: string, startedAt: Date): RunLogWriter {
    if (closed) throw new Error('run log store is closed');
    if (!isRunId(runId)) throw badRequest('runId must be a UUID', 'runId');
    if (!(startedAt instanceof Date) || Number.isNaN(startedAt.getTime())) {
      throw badRequest('startedAt must be a valid date', 'startedAt');
    }
    const key = runId.toLowerCase();
    if (running.has(key)) throw conflict(`the log of run ${runId} is already open`);
    const writer = new LiveRunLog({
      runId,
      startedAt,
      maxBytes: opts.maxBytesPerRun,
      spillAfterMs: opts.spillAfterMs ?? 2000,
      spillAfterBytes: opts.spillAfterBytes ?? 64 * 1024,
      // Concatenated, not path.join: this runs for every run that starts (a key is a lower-case UUID).
      spillPath: `${liveDir}${path.sep}${key}.log`,
      dayFiles,
      logger,
      onDone: () => {
        if (running.get(key) === writer) running.delete(key);
      },
    });
    running.set(key, writer);
    return writer;
  }

  function live(runId: string): LiveLog | null {
    if (!isRunId(runId)) return null;
    const writer = running.get(runId.toLowerCase());
    if (!writer || writer.ended) return null;
    return { text: writer.text(), subscribe: (onLine, onEnd) => writer.subscribe(onLine, onEnd) };
  }

  async function recover(runIds: string[]): Promise<Map<string, LogIndex>> {
    const wanted = new Set(runIds.filter(isRunId).map((id) => id.toLowerCase()));
    const found = new Map<string, LogIndex>();
    for (const name of await listSpillFiles(liveDir)) {
      const runId = SPILL_RE.exec(name)?.[1].toLowerCase();
      if (!runId || running.has(runId)) continue;
      const file = path.join(liveDir, name);
      if (wanted.has(runId)) {
        const index = await moveSpill(file, runId);
        if (index) found.set(runId, index);
      }
      await unlink(file).catch(() => undefined);
    }
    if (found.size > 0) logger.info('recovered spilled run logs', { count: found.size });
    return found;
  }

  /** Appends what a dead host spilled, plus a line saying so, to the day file of the run's first line. */
  async function moveSpill(file: string, runId: string): Promise<LogIndex | null> {
    const text = await readFile(file, 'utf8');
    if (text.length === 0) return null;
    const body = text.endsWith('\n') ? text : `${text}\n`;
    const note = `${new Date().toISOString()} WARN [${runId}] … [the host stopped while this run was going; the log ends here] …\n`;
    return dayFiles.append(await firstLineTime(text, file), Buffer.from(body + note));
  }

  async function close(): Promise<void> {
    closed = true;
    const ends = [...running.values()].map((w) =>
      w.end().catch((err: unknown) => logger.warn('run log lost at close', { error: String(err) })),
    );
    await Promise.all(ends);
    await dayFiles.idle();
  }

  return { open: openWriter, read: (index) => readChunk(opts.dir, index), live, recover, close };
}

async function readChunk(dir: string, index: LogIndex): Promise<string> {
  const { file, offset, length } = index;
  if (!isDayFilePath(file)) throw badRequest('not a run log file', 'file');
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw badRequest('log offset and length must be non-negative integers', 'offset');
  }
  const fh = await open(path.join(dir, file), 'r').catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? notFound('run log') : err;
  });
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function listSpillFiles(liveDir: string): Promise<string[]> {
  try {
    return await readdir(liveDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The day a spilled log belongs to: the time on its first line, else the file's modification time. */
async function firstLineTime(text: string, file: string): Promise<Date> {
  const t = new Date(text.slice(0, 24));
  return Number.isNaN(t.getTime()) ? (await stat(file)).mtime : t;
}
