/**
 * Cron expressions: normalisation, validation with messages that name the bad field, and a bounded cache of parsed
 * expressions. croner is the one library that decides fire times (next run, preview and missed-run detection all
 * come from it, so they agree); node-cron is only asked for its field-level error messages.
 *
 * Expressions have six fields, seconds first: `sec min hour day-of-month month day-of-week`.
 * - Five fields (classic crontab) are accepted and read as firing at second 0: "0 " is prefixed. Users paste crontab
 *   lines; refusing them would only make them add the "0 " by hand.
 * - Seven fields (a year) are refused: neither the REST contract nor node-cron knows a year field.
 * - The nicknames @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly become their six-field forms.
 * - croner's extensions stay allowed because croner computes the times: `L` (last day), `W`, `#` (nth weekday), `?`.
 *
 * DST (croner's rule, kept on purpose): an expression whose second, minute and hour are single values (e.g.
 * `0 30 2 * * *`) is a fixed-time job: in a spring gap it fires once at the first valid time after the gap
 * (03:00 instead of the missing 02:30), and on an autumn repeat it fires once, at the first occurrence. Other
 * expressions (steps, ranges, wildcards) skip the missing times and fire on both occurrences of repeated times.
 */
import { Cron } from 'croner';
import { validateDetailed } from 'node-cron';
import { badRequest, type HostError } from '../errors/index.js';
import { LruMap } from './lru.js';

const FIELD = 'schedule.cron';
const FIELDS = ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'] as const;
const ALLOWED: Record<(typeof FIELDS)[number], string> = {
  second: '0-59',
  minute: '0-59',
  hour: '0-23',
  dayOfMonth: '1-31 or L',
  month: '1-12 or JAN-DEC',
  dayOfWeek: '0-7 or SUN-SAT',
};
const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};

/** The six-field form of an expression (whitespace collapsed); throws badRequest for a wrong number of fields. */
export function normaliseCron(expression: string): string {
  const trimmed = expression.trim();
  const nickname = NICKNAMES[trimmed.toLowerCase()];
  if (nickname) return nickname;
  const parts = trimmed.split(/\s+/).filter((p) => p !== '');
  if (parts.length === 5) return `0 ${parts.join(' ')}`;
  if (parts.length === 6) return parts.join(' ');
  throw badRequest(
    `${FIELD}: expected 6 fields (second minute hour day-of-month month day-of-week) or 5 without seconds, got ${parts.length}`,
    FIELD,
  );
}

/** Parses a six-field expression with croner, or throws badRequest naming the first bad field. */
export function parseCron(expression6: string, timezone: string | undefined): Cron {
  try {
    return new Cron(expression6, { paused: true, mode: '6-part', ...(timezone ? { timezone } : {}) });
  } catch (err) {
    throw describeCronError(expression6, err);
  }
}

/**
 * croner (the authority) finds the bad field by parsing each field alone; node-cron's wording is used for that field
 * when it also objects to it (it says which value and we add the allowed range), croner's reason otherwise (e.g. a
 * step larger than the range, which node-cron accepts). Checking croner first keeps node-cron from blaming a field
 * only it does not understand (L, W, #).
 */
function describeCronError(expression6: string, err: unknown): HostError {
  const parts = expression6.split(' ');
  const nodeCronErrors = validateDetailed(expression6).errors;
  for (let i = 0; i < FIELDS.length; i++) {
    const field = FIELDS[i] as (typeof FIELDS)[number];
    const alone = FIELDS.map((_, j) => (j === i ? parts[i] : '*')).join(' ');
    try {
      new Cron(alone, { paused: true, mode: '6-part' });
    } catch (fieldErr) {
      const worded = nodeCronErrors.find((e) => e.field === field);
      const reason = worded ? `${worded.value} is not valid (allowed ${ALLOWED[field]})` : `${parts[i]}: ${cronerReason(fieldErr)}`;
      return badRequest(`${FIELD}: ${field}: ${reason}`, FIELD);
    }
  }
  return badRequest(`${FIELD}: ${cronerReason(err)}`, FIELD);
}

function cronerReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^CronPattern:\s*/, '').replace(/^Syntax error,\s*/, '');
}

/** One parsed expression shared by every job that uses it, with the last question it answered. */
export interface CompiledCron {
  /** The first fire time strictly after `afterMs`, or null when the expression never fires again. */
  nextAfter(afterMs: number): number | null;
}

class CachedCron implements CompiledCron {
  // 1,000 jobs on one expression, re-inserted after the same fire, all ask the same question: answer it once.
  private lastAfter = Number.NaN;
  private lastNext: number | null = null;
  constructor(
    private readonly key: string,
    private readonly cache: CronCache,
  ) {}

  nextAfter(afterMs: number): number | null {
    // Fire times are whole seconds, so every instant of one second has the same next fire time: memoise per second.
    const second = Math.floor(afterMs / 1000) * 1000;
    if (second !== this.lastAfter) {
      const next = this.cache.parsed(this.key).nextRun(new Date(second));
      this.lastNext = next ? next.getTime() : null;
      this.lastAfter = second;
    }
    return this.lastNext;
  }
}

/**
 * Expressions by (expression, timezone) in two bounded tiers, least recently used evicted first:
 * - every expression in use keeps a light entry (~200 bytes) that remembers its last answer, so the jobs of one
 *   expression that ask the same question (all of them at start-up, all of them after a shared fire) cost one
 *   croner call whatever the order they ask in;
 * - only a few parsed croner objects are kept: each weighs ~80 KB (a 10,000-slot year array), so 1,000 of them were
 *   80 MB. Evicting one costs a re-parse (~0.1 ms) the next time its expression needs a new answer. 128 is the
 *   trade: fewer lowers the start-up peak a little more (each expression is parsed once, then becomes garbage), but
 *   100 distinct every-second expressions then re-parse on every fire (2.0 s CPU a minute at 64, 0.9 s at 128).
 */
export class CronCache {
  private readonly entries: LruMap<string, CachedCron>;
  private readonly crons: LruMap<string, Cron>;

  constructor(maxEntries = 10_000, maxParsed = 128) {
    this.entries = new LruMap(maxEntries);
    this.crons = new LruMap(maxParsed);
  }

  get(expression: string, timezone: string | undefined): CompiledCron {
    const key = `${timezone ?? ''}\u0000${expression}`;
    const hit = this.entries.get(key);
    if (hit) return hit;
    // Parsing up front keeps a bad expression failing here, where the schedule is evaluated, not on a later answer.
    this.parsed(key);
    const compiled = new CachedCron(key, this);
    this.entries.set(key, compiled);
    return compiled;
  }

  /** The parsed croner object of a key made by get(). */
  parsed(key: string): Cron {
    const hit = this.crons.get(key);
    if (hit) return hit;
    const split = key.indexOf('\u0000');
    const timezone = key.slice(0, split);
    const cron = parseCron(normaliseCron(key.slice(split + 1)), timezone === '' ? undefined : timezone);
    this.crons.set(key, cron);
    return cron;
  }

  get size(): number {
    return this.entries.size;
  }

  get parsedCount(): number {
    return this.crons.size;
  }
}
