/**
 * The host's own log: the Logger interface, written to one file per day in month folders
 * (`<dir>/2026-11/2026-11-22.log`, UTC) and, for the CLI, to stdout. This is the only module that writes to the
 * console.
 *
 * No logging library's global state: log4js keeps ONE configuration per process, and configure() shuts down the
 * appenders of the previous one, so a host that configured it replaced the logging of the application embedding it
 * (its lines went nowhere). Each host logger formats its own lines and writes them to its own sink, so two hosts and
 * the application each keep their own log, and shutting one down leaves the others writing.
 */
import type { Logger } from './logger.js';
import { DayFileSink } from './day-file-sink.js';

export type HostLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface HostLoggerOptions {
  /** The folder that holds the month folders. */
  dir: string;
  level: HostLogLevel;
  /** Also print every line to stdout (the CLI). */
  console?: boolean;
  /** Category at the start of each line's bracket (default `jobcenter`). */
  category?: string;
}

export interface HostLogger {
  logger: Logger;
  /** Flushes and closes the day file; later log calls are dropped. */
  shutdown(): Promise<void>;
}

const RANK: Record<HostLogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LEVEL_TEXT: Record<HostLogLevel, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' };

interface Sink {
  open: boolean;
  file: DayFileSink;
  console: boolean;
}

/** One line to log, as the host's loggers make it. */
export interface LogLine {
  at: Date;
  level: HostLogLevel;
  category: string;
  bindings: Record<string, unknown>;
  message: string;
  fields?: Record<string, unknown>;
}

export function createHostLogger(opts: HostLoggerOptions): HostLogger {
  const sink: Sink = { open: true, file: new DayFileSink(opts.dir), console: opts.console === true };
  const logger = makeLogger(sink, opts.category ?? 'jobcenter', RANK[opts.level], {});
  return {
    logger,
    async shutdown() {
      sink.open = false;
      await sink.file.close();
    },
  };
}

function makeLogger(sink: Sink, category: string, minRank: number, bindings: Record<string, unknown>): Logger {
  const emit = (level: HostLogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < minRank || !sink.open) return;
    const at = new Date();
    const line = formatLine({ at, level, category, bindings, message, ...(fields && Object.keys(fields).length > 0 ? { fields } : {}) });
    sink.file.write(line, at);
    if (sink.console) process.stdout.write(line + '\n');
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (more) => makeLogger(sink, category, minRank, { ...bindings, ...more }),
  };
}

/** `<ISO time> <LEVEL> [<category> k=v …] <message> <fields as JSON>` */
export function formatLine(line: LogLine): string {
  const tags = Object.entries(line.bindings).map(([k, v]) => `${k}=${bindingValue(v)}`);
  const head = `${line.at.toISOString()} ${LEVEL_TEXT[line.level]} [${[line.category, ...tags].join(' ')}] ${String(line.message)}`;
  return line.fields === undefined ? head : `${head} ${safeJson(line.fields)}`;
}
function bindingValue(v: unknown): string {
  if (typeof v === 'string' && /^[^\s"=\]]+$/.test(v)) return v;
  return safeJson(v);
}

/** JSON that never throws: errors keep name, message, code and stack; cycles and BigInts do not break the line. */
function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Error) {
        const code = (v as { code?: unknown }).code;
        return { name: v.name, message: v.message, ...(code !== undefined ? { code } : {}), stack: v.stack };
      }
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
      }
      return v;
    }) ?? String(value);
  } catch {
    return String(value);
  }
}
