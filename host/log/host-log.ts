/**
 * The host's own log: the Logger interface on top of log4js, written to one file per day in month folders
 * (`<dir>/2026-11/2026-11-22.log`, UTC) and, for the CLI, to stdout. This is the only module that writes to the
 * console.
 *
 * log4js keeps ONE global configuration and configure() shuts down the appenders of the previous one. So the
 * configuration holds a single stateless router appender, and each host logger travels in the context of its log4js
 * loggers as its own sink (file + console flag). Configuring again (a second host in the same process) closes
 * nothing that matters, and shutting one host logger down leaves the others writing.
 */
import log4js from 'log4js';
import type { AppenderModule, LoggingEvent } from 'log4js';
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
const SINK_KEY = 'jobcenterSink';
const BINDINGS_KEY = 'jobcenterBindings';

interface Sink {
  open: boolean;
  file: DayFileSink;
  console: boolean;
}

/** The router: every event carries its sink in its context; events without one (someone else's) are dropped. */
const routerAppender: AppenderModule = {
  configure: () => (event: LoggingEvent) => {
    const sink = (event.context as Record<string, unknown> | undefined)?.[SINK_KEY] as Sink | undefined;
    if (!sink?.open) return;
    const line = formatLine(event);
    sink.file.write(line, event.startTime);
    if (sink.console) process.stdout.write(line + '\n');
  },
};

export function createHostLogger(opts: HostLoggerOptions): HostLogger {
  const sink: Sink = { open: true, file: new DayFileSink(opts.dir), console: opts.console === true };
  const category = opts.category ?? 'jobcenter';
  log4js.configure({
    appenders: { jobcenter: { type: routerAppender } },
    categories: { default: { appenders: ['jobcenter'], level: 'all' } },
  });
  const logger = makeLogger(sink, category, RANK[opts.level], {});
  return {
    logger,
    async shutdown() {
      sink.open = false;
      await sink.file.close();
    },
  };
}

function makeLogger(sink: Sink, category: string, minRank: number, bindings: Record<string, unknown>): Logger {
  // getLogger returns a new object per call, so the context set here belongs to this Logger alone.
  const target = log4js.getLogger(category);
  target.addContext(SINK_KEY, sink);
  target.addContext(BINDINGS_KEY, bindings);
  const emit = (level: HostLogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < minRank || !sink.open) return;
    target[level](message, ...(fields && Object.keys(fields).length > 0 ? [fields] : []));
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
export function formatLine(event: LoggingEvent): string {
  const bindings = ((event.context as Record<string, unknown>)[BINDINGS_KEY] ?? {}) as Record<string, unknown>;
  const tags = Object.entries(bindings).map(([k, v]) => `${k}=${bindingValue(v)}`);
  const [message, fields] = event.data as [unknown, Record<string, unknown> | undefined];
  const level = event.level.levelStr.padEnd(5);
  const head = `${event.startTime.toISOString()} ${level} [${[event.categoryName, ...tags].join(' ')}] ${String(message)}`;
  return fields === undefined ? head : `${head} ${safeJson(fields)}`;
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
