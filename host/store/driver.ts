/**
 * Statements sent on the driver connection under sequelize (sqlite3's Database, mysql2's Connection), past its query
 * layer, for the paths that run per run or per request:
 * - writes of run rows: sequelize.query with replacements tokenised a whole 19,000-value statement, which cost more
 *   than the write itself;
 * - hot reads on SQLite: sequelize's sqlite dialect sends every query in serialize mode, in which node-sqlite3 waits
 *   for every statement in flight on the connection and holds back the ones after (and it asks PRAGMA table_info
 *   first), so one REST read waited for the run rows being written and held the next batch up.
 */
import { createRequire } from 'node:module';
import type { Sequelize } from 'sequelize';
import type { DialectTraits } from './capabilities.js';
import type { RowModel } from './models.js';

export interface Driver {
  /**
   * One statement with its values spelled in (see literal); a MySQL deadlock victim is sent again. It answers how
   * many rows the statement changed (an UPDATE: the rows it matched and set).
   */
  run(sql: string): Promise<number>;
  /**
   * A string or a finite number (null: NULL) as a literal of the dialect, to spell into a statement for run():
   * binding 19,000 values through sqlite3 cost ~50 ms of the main thread per batch, and mysql2 spliced values in
   * with one string concatenation each.
   */
  literal(value: unknown): string;
  /** One SELECT with bound values; rows hold what the driver gives (SQLite: dates and JSON as text, 0/1). */
  select(sql: string, values: unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * `work` on one connection between BEGIN and COMMIT (ROLLBACK when it throws); a MySQL deadlock victim runs it
   * again from the start, so `work` must only send statements. Callers pass it through the write gate like run().
   */
  transaction<T>(work: (tx: Pick<Driver, 'run' | 'select'>) => Promise<T>): Promise<T>;
  /**
   * Statements that need no answer, in one transaction. On SQLite they go in one call (sqlite3's exec): each
   * statement sent alone is a trip through libuv's thread pool (~0.15-0.4 ms), and every other write waits for them.
   * A statement given with `changes` must change exactly that many rows: if it changes another number, nothing of the
   * script is written and it throws a RowCountMismatch.
   */
  script(statements: readonly ScriptStatement[]): Promise<void>;
}

export type ScriptStatement = string | { sql: string; changes: number };

/** A script's statement changed another number of rows than it said: the script was rolled back whole. */
export class RowCountMismatch extends Error {
  constructor() {
    super('a statement of the script changed another number of rows than it expected; the script was rolled back');
    this.name = 'RowCountMismatch';
  }
}

/**
 * SQLite's exec answers nothing per statement, so the script checks its counts itself: after a statement with
 * `changes`, it inserts into a table whose CHECK refuses any row when changes() is another number, and exec stops
 * there with that constraint's error (the script then rolls back).
 */
const GUARD = 'jobcenter_script_guard';
const GUARD_TABLE = `CREATE TEMP TABLE IF NOT EXISTS \`${GUARD}\` (\`n\` INTEGER CONSTRAINT \`${GUARD}\` CHECK (\`n\` = 0))`;
const sqliteGuard = (changes: number): string => `INSERT INTO temp.\`${GUARD}\` SELECT 1 WHERE changes() <> ${Math.trunc(changes)}`;
const isGuardFailure = (err: unknown): boolean => err instanceof Error && err.message.includes(GUARD);

type Done<T> = (err: Error | null, result?: T) => void;

/** The driver connection under sequelize: sqlite3's Database or mysql2's (callback) Connection. */
interface DriverConnection {
  run?(sql: string, values: unknown[], done: (this: { changes?: number } | undefined, err: Error | null) => void): void;
  exec?(sql: string, done: Done<void>): void;
  all?(sql: string, values: unknown[], done: Done<Record<string, unknown>[]>): void;
  query?(options: { sql: string; values?: unknown[] }, done: Done<unknown>): void;
}

interface ConnectionManager {
  getConnection(options: { type: 'read' | 'write' }): Promise<DriverConnection>;
  releaseConnection(connection: DriverConnection): Promise<void>;
}

export function createDriver(sequelize: Sequelize, dialect: DialectTraits['dialect']): Driver {
  const manager = sequelize.connectionManager as unknown as ConnectionManager;
  const withConnection = async <T>(type: 'read' | 'write', use: (connection: DriverConnection) => Promise<T>): Promise<T> => {
    const connection = await manager.getConnection({ type });
    try {
      return await use(connection);
    } finally {
      await manager.releaseConnection(connection);
    }
  };
  const send = (connection: DriverConnection, sql: string): Promise<number> =>
    new Promise((resolve, reject) => {
      // sqlite3 gives a run's counts as the callback's `this`; mysql2 gives them as its result.
      if (dialect === 'sqlite') {
        connection.run!(sql, [], function (this: { changes?: number } | undefined, err) {
          if (err) reject(err);
          else resolve(this?.changes ?? 0);
        });
      } else connection.query!({ sql }, (err, result) => (err ? reject(err) : resolve((result as { affectedRows?: number } | undefined)?.affectedRows ?? 0)));
    });
  const selectOn = (connection: DriverConnection, sql: string, values: unknown[]): Promise<Record<string, unknown>[]> =>
    new Promise((resolve, reject) => {
      const done: Done<unknown> = (err, rows) => (err ? reject(err) : resolve(rows as Record<string, unknown>[]));
      if (dialect === 'sqlite') connection.all!(sql, values, done);
      else connection.query!({ sql, values }, done);
    });
  const inTransaction = <T>(work: (tx: Pick<Driver, 'run' | 'select'>) => Promise<T>): Promise<T> =>
    withConnection('write', async (connection) => {
      // IMMEDIATE: SQLite takes the write lock at BEGIN, not at the first write after a read.
      await send(connection, dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'START TRANSACTION');
      try {
        const result = await work({ run: (sql) => send(connection, sql), select: (sql, values) => selectOn(connection, sql, values) });
        await send(connection, 'COMMIT');
        return result;
      } catch (err) {
        await send(connection, 'ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  const script = (statements: readonly ScriptStatement[]): Promise<void> =>
    dialect === 'sqlite'
      ? withConnection('write', async (connection) => {
          const checked = statements.some((statement) => typeof statement !== 'string');
          const parts = statements.map((statement) => (typeof statement === 'string' ? statement : `${statement.sql};\n${sqliteGuard(statement.changes)}`));
          try {
            await new Promise<void>((resolve, reject) =>
              connection.exec!(`BEGIN IMMEDIATE;\n${checked ? `${GUARD_TABLE};\n` : ''}${parts.join(';\n')};\nCOMMIT`, (err) => (err ? reject(err) : resolve())),
            );
          } catch (err) {
            // exec stops at the failing statement, inside the transaction (or before it began: then this fails too).
            await send(connection, 'ROLLBACK').catch(() => undefined);
            throw isGuardFailure(err) ? new RowCountMismatch() : err;
          }
        })
      : inTransaction(async (tx) => {
          for (const statement of statements) {
            if (typeof statement === 'string') await tx.run(statement);
            else if ((await tx.run(statement.sql)) !== statement.changes) throw new RowCountMismatch();
          }
        });
  const retried = async <T>(attemptOnce: () => Promise<T>): Promise<T> => {
    // Two batches in flight on MySQL can deadlock on an index (rare): InnoDB rolls one statement (or transaction)
    // back whole, so it is safe to send again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await attemptOnce();
      } catch (err) {
        if (attempt >= DEADLOCK_RETRIES || !isDeadlock(err)) throw err;
        await new Promise((resolve) => setTimeout(resolve, attempt * 5));
      }
    }
  };
  return {
    literal: dialect === 'sqlite' ? sqliteLiteral : mysqlLiteral(),
    run: (sql) => retried(() => withConnection('write', (connection) => send(connection, sql))),
    select: (sql, values) => withConnection('read', (connection) => selectOn(connection, sql, values)),
    transaction: (work) => retried(() => inTransaction(work)),
    script: (statements) => retried(() => script(statements)),
  };
}

const DEADLOCK_RETRIES = 5;

/** `SELECT <this> FROM …` gives a model's columns under their attribute names (`project_id` AS `projectId`). */
export function selectList(model: RowModel): string {
  return Object.entries(model.getAttributes())
    .map(([name, attribute]) => `\`${attribute.field ?? name}\` AS \`${name}\``)
    .join(', ');
}

/** The fields a driver error is recognised by. */
export interface DriverErrorFields {
  code?: unknown;
  errno?: unknown;
  name?: unknown;
  message?: unknown;
}

/**
 * An error and the errors it wraps, outermost first: sequelize keeps the driver's error as `parent` / `original`,
 * mysql2 a fatal socket error as `cause`. A few levels at most (a chain that loops ends there).
 */
export function* errorChain(err: unknown): Generator<DriverErrorFields> {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    yield e as DriverErrorFields;
    const next = e as { parent?: unknown; original?: unknown; cause?: unknown };
    e = next.parent ?? next.original ?? next.cause;
  }
}

/** ER_LOCK_DEADLOCK (1213) and ER_LOCK_WAIT_TIMEOUT (1205), also wrapped: the statement was rolled back and did nothing. */
export function isDeadlock(err: unknown): boolean {
  for (const { code, errno } of errorChain(err)) {
    if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || errno === 1213 || errno === 1205) return true;
  }
  return false;
}

/**
 * Numbers and NULL spelled here; the rest escaped by mysql2's own rules (quotes, backslashes), as its formatting does.
 * Backslash escapes mean what they say only without NO_BACKSLASH_ESCAPES: connect.ts pins every session's sql_mode.
 */
function mysqlLiteral(): (value: unknown) => string {
  const { escape } = createRequire(import.meta.url)('mysql2') as { escape(value: unknown): string };
  return (value) => {
    if (value === null || value === undefined) return 'NULL';
    if (typeof value === 'number') return finite(value);
    return escape(value);
  };
}

function finite(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`cannot write ${value} to the database`);
  return String(value);
}

function sqliteLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') return finite(value);
  if (typeof value !== 'string') throw new Error(`cannot write a ${typeof value} as a SQL literal`);
  const quoted = `'${value.includes("'") ? value.replaceAll("'", "''") : value}'`;
  // A NUL would end the statement's text early: spell it out.
  return quoted.includes('\0') ? quoted.replaceAll('\0', "' || char(0) || '") : quoted;
}
