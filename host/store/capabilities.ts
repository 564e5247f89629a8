/**
 * Everything that differs between SQLite and MySQL/MariaDB, in one table, so the repositories never ask which
 * dialect they run on.
 */
import { DataTypes } from 'sequelize';
import type { DataType } from 'sequelize';
import type { StoreCapabilities } from './types.js';

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
}

/** `.000` … `.999`: the millisecond part of a date literal. */
const MILLIS = Array.from({ length: 1_000 }, (_, ms) => `.${String(ms).padStart(3, '0')}`);
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * `yyyy-MM-dd HH:mm:ss.SSS` (UTC). This runs for every date of every run row written, and the dates of a burst fall
 * in the same second: the part up to the second is made once per second (toISOString formats through snprintf).
 */
const isoNoZone = (date: Date): string => {
  const time = date.getTime();
  const second = Math.floor(time / 1_000);
  if (second !== cachedSecond) {
    const iso = date.toISOString();
    cachedPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    cachedSecond = second;
  }
  return cachedPrefix + MILLIS[time - second * 1_000]!;
};

export const DIALECT_TRAITS: Readonly<Record<StoreCapabilities['dialect'], DialectTraits>> = Object.freeze({
  sqlite: {
    dialect: 'sqlite',
    // SQLite has one writer at a time; queuing writes here beats SQLITE_BUSY retries between connections.
    serialisedWrites: true,
    migrationLock: false,
    tableOptions: {},
    longTextType: DataTypes.TEXT,
    dateLiteral: (date) => `${isoNoZone(date)} +00:00`,
    jsonAsText: true,
    healthProbe: 'PRAGMA user_version = 0',
  },
  mysql: {
    dialect: 'mysql',
    serialisedWrites: false,
    migrationLock: true,
    tableOptions: { charset: 'utf8mb4', collate: 'utf8mb4_bin' },
    longTextType: DataTypes.TEXT('medium'),
    dateLiteral: isoNoZone,
    jsonAsText: false,
    healthProbe: 'SELECT 1',
  },
});

export function publicCapabilities(traits: DialectTraits): StoreCapabilities {
  return Object.freeze({ dialect: traits.dialect, serialisedWrites: traits.serialisedWrites });
}
