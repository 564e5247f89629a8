/**
 * The recording limit: raw sqlite3 and raw mysql2 writing what a host writes per run (its row inserted, then
 * finished), in batched statements of 1,000 rows: one multi-row INSERT, then one multi-row upsert to the final
 * status. No ORM, no dispatch: the most rows per second these drivers give on this machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import sqlite3 from 'sqlite3';
import { benchDb } from './jobcenter.js';

const BATCH = 1000;
const COLUMNS = '(run_id, job_id, status, scheduled_at, started_at, ended_at, result)';

function batchRows(count: number, status: string): unknown[][] {
  const now = Date.now();
  return Array.from({ length: count }, () => [randomUUID(), 1, status, now, now, null, null]);
}

export async function rawSqlite(runs: number): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-bench-sqlite-'));
  const db = new sqlite3.Database(path.join(dir, 'runs.db'));
  const exec = (sql: string, params: unknown[] = []): Promise<void> =>
    new Promise((resolve, reject) => db.run(sql, params, (err: Error | null) => (err ? reject(err) : resolve())));
  try {
    await exec('PRAGMA journal_mode = WAL');
    await exec('PRAGMA synchronous = NORMAL');
    await exec(`CREATE TABLE runs (run_id TEXT PRIMARY KEY, job_id INTEGER, status TEXT, scheduled_at INTEGER, started_at INTEGER, ended_at INTEGER, result TEXT)`);
    const placeholders = (n: number): string => Array.from({ length: n }, () => '(?,?,?,?,?,?,?)').join(',');
    const t0 = performance.now();
    for (let done = 0; done < runs; done += BATCH) {
      const rows = batchRows(Math.min(BATCH, runs - done), 'RUNNING');
      await exec(`INSERT INTO runs ${COLUMNS} VALUES ${placeholders(rows.length)}`, rows.flat());
      for (const row of rows) {
        row[2] = 'SUCCEEDED';
        row[5] = Date.now();
      }
      await exec(
        `INSERT INTO runs ${COLUMNS} VALUES ${placeholders(rows.length)} ON CONFLICT(run_id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at, result = excluded.result`,
        rows.flat(),
      );
    }
    return runs / ((performance.now() - t0) / 1000);
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

export async function rawMysql(runs: number): Promise<number> {
  const bdb = await benchDb('mysql', 'raw');
  const conn = await mysql.createConnection(bdb.dbUrl!);
  try {
    await conn.query(`CREATE TABLE runs (run_id CHAR(36) PRIMARY KEY, job_id INT, status VARCHAR(16), scheduled_at BIGINT, started_at BIGINT, ended_at BIGINT NULL, result TEXT NULL)`);
    const t0 = performance.now();
    for (let done = 0; done < runs; done += BATCH) {
      const rows = batchRows(Math.min(BATCH, runs - done), 'RUNNING');
      await conn.query(`INSERT INTO runs ${COLUMNS} VALUES ?`, [rows]);
      for (const row of rows) {
        row[2] = 'SUCCEEDED';
        row[5] = Date.now();
      }
      await conn.query(`INSERT INTO runs ${COLUMNS} VALUES ? ON DUPLICATE KEY UPDATE status = VALUES(status), ended_at = VALUES(ended_at), result = VALUES(result)`, [rows]);
    }
    return runs / ((performance.now() - t0) / 1000);
  } finally {
    await conn.end();
    await bdb.drop();
  }
}
