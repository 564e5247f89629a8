/**
 * Opens the sequelize connection for a HostConfig['db'] and tunes it per dialect (the traits say which).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Sequelize, Transaction } from 'sequelize';
import type { Options } from 'sequelize';
import type { Database as SqliteDatabase } from 'sqlite3';
import type { HostConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { dialectTraits } from './capabilities.js';
import type { DialectTraits } from './capabilities.js';

const SQLITE_BUSY_TIMEOUT_MS = 15_000;

export interface Connection {
  sequelize: Sequelize;
  traits: DialectTraits;
}

const COMMON: Options = {
  logging: false,
  timezone: '+00:00',
  define: { underscored: true, timestamps: false, freezeTableName: true },
};

/**
 * The sql_mode of every MySQL session, whatever the server's global one. sequelize and mysql2 (driver.ts) spell
 * string literals with backslash escapes, which NO_BACKSLASH_ESCAPES reads differently: a run's result
 * `x\', (SELECT password_hash FROM users LIMIT 1)) -- ` became SQL, a JSON value's `\"` failed its json_valid
 * check (samples did not seed), and run rows failed to end. Strict, so an over-long value is refused rather than
 * cut short. Every flag here exists on MariaDB 10 and MySQL 5.7 and 8.
 */
export const SESSION_SQL_MODE = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

interface MysqlConnection {
  query(sql: string, done: (err: Error | null) => void): void;
}

export async function connect(db: HostConfig['db'], logger: Logger): Promise<Connection> {
  if (db.dialect === 'sqlite') return connectSqlite(db.file, logger);
  const sequelize = new Sequelize(db.url, {
    ...COMMON,
    dialect: 'mysql',
    dialectOptions: { charset: 'utf8mb4', dateStrings: false },
    pool: { max: 10, min: 0, idle: 10_000, acquire: 30_000 },
    // Every connection the pool opens, the first ones and those replacing a dropped one, before it is handed out.
    hooks: {
      afterConnect: async (connection: unknown) => {
        const session = connection as MysqlConnection;
        await promisify((done: (err: Error | null) => void) => session.query(`SET SESSION sql_mode = '${SESSION_SQL_MODE}'`, done))();
      },
    },
  });
  await sequelize.authenticate();
  logger.debug('store connected', { dialect: 'mysql' });
  return { sequelize, traits: dialectTraits('mysql') };
}

async function connectSqlite(file: string, logger: Logger): Promise<Connection> {
  mkdirSync(path.dirname(file), { recursive: true });
  const sequelize = new Sequelize({
    ...COMMON,
    dialect: 'sqlite',
    storage: file,
    // Writers take the write lock up front instead of failing to upgrade a read lock later.
    transactionType: Transaction.TYPES.IMMEDIATE,
  });
  configureEveryConnection(sequelize);
  withoutStackPerQuery(sequelize);
  // WAL is a property of the file (readers never block the writer); it sticks once set.
  await sequelize.query('PRAGMA journal_mode=WAL');
  logger.debug('store connected', { dialect: 'sqlite', file });
  return { sequelize, traits: dialectTraits('sqlite') };
}

/**
 * sequelize's sqlite dialect makes an Error and reads its .stack on EVERY query (to decorate a failure that almost
 * never comes): formatting that stack was the largest single cost of a REST request (~0.5 s of CPU per 1,000
 * triggers). Its Query.run makes that Error synchronously, so it runs here with Error.stackTraceLimit at 0: the
 * stack is one line. A failing query still reports the driver's message and its SQL.
 *
 * Only this Sequelize instance's queries: `sequelize.query` makes each query with `new this.dialect.Query(…)`, and the
 * dialect object is the instance's own, so a subclass set on it leaves the Query class (and the prototype) that every
 * other sqlite Sequelize of the process shares as it was: an embedding application's failing queries keep their
 * stack.
 */
function withoutStackPerQuery(sequelize: Sequelize): void {
  type QueryClass = new (...args: never[]) => { run(...args: unknown[]): unknown };
  const dialect = (sequelize as unknown as { dialect: { Query: QueryClass } }).dialect;
  const Query = dialect.Query;
  dialect.Query = class QueryWithoutStack extends Query {
    override run(...args: unknown[]): unknown {
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        return super.run(...args);
      } finally {
        Error.stackTraceLimit = limit;
      }
    }
  };
}

/**
 * The sqlite dialect opens a new sqlite3 connection per transaction and never calls the afterConnect hook, so the
 * per-connection settings go in through a wrapper around getConnection (platform-notes §6).
 */
function configureEveryConnection(sequelize: Sequelize): void {
  const manager = sequelize.connectionManager as unknown as {
    getConnection(options?: unknown): Promise<SqliteDatabase>;
  };
  const original = manager.getConnection.bind(manager);
  const configured = new WeakSet<SqliteDatabase>();
  manager.getConnection = async (options?: unknown) => {
    const conn = await original(options);
    if (!configured.has(conn)) {
      configured.add(conn);
      conn.configure('busyTimeout', SQLITE_BUSY_TIMEOUT_MS);
      await new Promise<void>((resolve, reject) =>
        conn.exec('PRAGMA synchronous=NORMAL', (err) => (err ? reject(err) : resolve())),
      );
    }
    return conn;
  };
}
