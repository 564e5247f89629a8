/**
 * Everything that differs between SQLite and MySQL/MariaDB, in one table, so the repositories never ask which
 * dialect they run on.
 */
import { DataTypes } from 'sequelize';
import type { DataType } from 'sequelize';

/** What the rest of the host may know of the database (store/types.ts re-exports it with the repositories). */
export interface StoreCapabilities {
  dialect: 'sqlite' | 'mysql';
  /** Whether writes must be serialised in-process (SQLite). */
  serialisedWrites: boolean;
}

export interface DialectTraits extends StoreCapabilities {
  /**
   * Whether migrations must take a named server lock first: several hosts may start at once against one MySQL
   * database, and MariaDB DDL is not transactional. SQLite has one host and the in-process write mutex.
   */
  migrationLock: boolean;
  /** Table options for CREATE TABLE: utf8mb4 with a binary collation so names compare as on SQLite. */
  tableOptions: { charset?: string; collate?: string };
  /** Column type of long strings (run results): MySQL's TEXT stops at 64 KB; SQLite's TEXT takes no size. */
  longTextType: DataType;
  /**
   * A Date as a literal for raw SQL, in the exact text the dialect's DATE(3) column holds: SQLite compares dates as
   * text, and sequelize.escape() drops the milliseconds on MySQL.
   */
  dateLiteral(date: Date): string;
  /** Raw query results (no model) hold JSON columns as their text (SQLite) rather than parsed values (mysql2). */
  jsonAsText: boolean;
  /**
   * The statement that says whether the database takes writes again (health.ts). A server that answers takes them;
   * a SQLite file can be read while its disk is full, so its probe writes (the header's user_version, unused, as 0).
   */
  healthProbe: string;
  /**
   * The database's clock as a SQL expression, in the text a DATE(3) column holds (leases are judged by it, never
   * by a host's clock); `clockPlus` is that clock `ms` later.
   */
  clockNow: string;
  clockPlus(ms: number): string;
  /** The tail of an INSERT that, on a duplicate key, adds `sums` to the row there and keeps the larger of `maxes`. */
  upsertAdding(key: readonly string[], sums: readonly string[], maxes: readonly string[]): string;
  /** A date column's value as whole epoch milliseconds, exactly (NULL stays NULL), for sums done by the database. */
  epochMs(column: string): string;
}

/** `.000` … `.999`: the millisecond part of a date literal. */
const MILLIS = Array.from({ length: 1_000 }, (_, ms) => `.${String(ms).padStart(3, '0')}`);

/**
 * `yyyy-MM-dd HH:mm:ss.SSS` (UTC). This runs for every date of every run row written, and the dates of a burst fall
 * in the same second: the part up to the second is made once per second (toISOString formats through snprintf).
 * The remembered second belongs to one store's traits, not to the module: hosts embedded in one process share none.
 */
function isoNoZoneFormatter(): (date: Date) => string {
  let cachedSecond = Number.NaN;
  let cachedPrefix = '';
  return (date) => {
    const time = date.getTime();
    const second = Math.floor(time / 1_000);
    if (second !== cachedSecond) {
      const iso = date.toISOString();
      cachedPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
      cachedSecond = second;
    }
    return cachedPrefix + MILLIS[time - second * 1_000]!;
  };
}

/** Spelled into SQL: a whole number of milliseconds, never anything else. */
function wholeMs(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`a lease of ${ms} ms cannot be written`);
  return Math.round(ms);
}

/** The traits of one store (one connection's): made per call, each with its own date formatter. */
export function dialectTraits(dialect: StoreCapabilities['dialect']): DialectTraits {
  return Object.freeze(dialect === 'sqlite' ? sqliteTraits(isoNoZoneFormatter()) : mysqlTraits(isoNoZoneFormatter()));
}

function sqliteTraits(isoNoZone: (date: Date) => string): DialectTraits {
  return {
    dialect: 'sqlite',
    // SQLite has one writer at a time; queuing writes here beats SQLITE_BUSY retries between connections.
    serialisedWrites: true,
    migrationLock: false,
    tableOptions: {},
    longTextType: DataTypes.TEXT,
    dateLiteral: (date) => `${isoNoZone(date)} +00:00`,
    jsonAsText: true,
    healthProbe: 'PRAGMA user_version = 0',
    // 'now' is UTC with milliseconds (%f), and stays the same within one statement.
    clockNow: "(strftime('%Y-%m-%d %H:%M:%f', 'now') || ' +00:00')",
    clockPlus: (ms) => `(strftime('%Y-%m-%d %H:%M:%f', 'now', '+${(wholeMs(ms) / 1_000).toFixed(3)} seconds') || ' +00:00')`,
    upsertAdding: (key, sums, maxes) =>
      `ON CONFLICT (${key.map((c) => `\`${c}\``).join(', ')}) DO UPDATE SET ${[
        ...sums.map((c) => `\`${c}\` = \`${c}\` + excluded.\`${c}\``),
        ...maxes.map((c) => `\`${c}\` = MAX(\`${c}\`, excluded.\`${c}\`)`),
      ].join(', ')}`,
    // The column's text is 'YYYY-MM-DD HH:MM:SS.mmm +00:00': whole seconds by strftime, then the milliseconds
    // (julianday would round through a double).
    epochMs: (column) => `(CAST(strftime('%s', substr(${column}, 1, 19)) AS INTEGER) * 1000 + CAST(substr(${column}, 21, 3) AS INTEGER))`,
  };
}

function mysqlTraits(isoNoZone: (date: Date) => string): DialectTraits {
  return {
    dialect: 'mysql',
    serialisedWrites: false,
    migrationLock: true,
    tableOptions: { charset: 'utf8mb4', collate: 'utf8mb4_bin' },
    longTextType: DataTypes.TEXT('medium'),
    dateLiteral: isoNoZone,
    jsonAsText: false,
    healthProbe: 'SELECT 1',
    // UTC whatever the session's time_zone, as the DATETIME(3) columns hold it.
    clockNow: 'UTC_TIMESTAMP(3)',
    clockPlus: (ms) => `(UTC_TIMESTAMP(3) + INTERVAL ${wholeMs(ms) * 1_000} MICROSECOND)`,
    // VALUES(column): MariaDB has no row alias for the inserted values (MySQL 8 deprecates VALUES() but keeps it).
    upsertAdding: (_key, sums, maxes) =>
      `ON DUPLICATE KEY UPDATE ${[
        ...sums.map((c) => `\`${c}\` = \`${c}\` + VALUES(\`${c}\`)`),
        ...maxes.map((c) => `\`${c}\` = GREATEST(\`${c}\`, VALUES(\`${c}\`))`),
      ].join(', ')}`,
    // Not UNIX_TIMESTAMP, which reads the DATETIME in the session's time zone.
    epochMs: (column) => `(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', ${column}) DIV 1000)`,
  };
}

export function publicCapabilities(traits: DialectTraits): StoreCapabilities {
  return Object.freeze({ dialect: traits.dialect, serialisedWrites: traits.serialisedWrites });
}
