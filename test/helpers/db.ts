/**
 * The databases a suite runs on: SQLite always, MySQL/MariaDB when JOBCENTER_TEST_MYSQL_URL is set (CI sets it).
 * Each make() gives a database of its own: a fresh SQLite file in a fresh temp folder, or a fresh `jc_<random>`
 * database on the MySQL server; drop() removes it.
 *
 *   for (const database of testDatabases()) {
 *     describe(`runs on ${database.name}`, { skip: database.skip }, () => { … });
 *   }
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { HostConfig } from '../../host/config/index.js';

export const MYSQL_URL_ENV = 'JOBCENTER_TEST_MYSQL_URL';

export interface MadeDatabase {
  db: HostConfig['db'];
  drop(): Promise<void>;
}

export interface TestDatabase {
  name: 'sqlite' | 'mysql';
  /** A reason to skip the suite (MySQL without JOBCENTER_TEST_MYSQL_URL), or undefined to run it. */
  skip: string | undefined;
  make(): Promise<MadeDatabase>;
}

export function mysqlSkipReason(): string | undefined {
  return process.env[MYSQL_URL_ENV]
    ? undefined
    : `MySQL not tested: set ${MYSQL_URL_ENV} (e.g. mysql://root@127.0.0.1:3306/test) to run these on MySQL/MariaDB`;
}

export function testDatabases(): TestDatabase[] {
  return [
    { name: 'sqlite', skip: undefined, make: makeSqlite },
    { name: 'mysql', skip: mysqlSkipReason(), make: makeMysql },
  ];
}

async function makeSqlite(): Promise<MadeDatabase> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-db-'));
  return {
    db: { dialect: 'sqlite', file: path.join(dir, 'jobcenter.db') },
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

async function makeMysql(): Promise<MadeDatabase> {
  const serverUrl = process.env[MYSQL_URL_ENV];
  if (!serverUrl) throw new Error(mysqlSkipReason());
  const name = `jc_${randomBytes(6).toString('hex')}`;
  await onServer(serverUrl, `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    db: { dialect: 'mysql', url: url.toString() },
    drop: () => onServer(serverUrl, `DROP DATABASE IF EXISTS \`${name}\``),
  };
}

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const connection = await mysql.createConnection(serverUrl);
  try {
    await connection.query(sql);
  } finally {
    await connection.end();
  }
}
