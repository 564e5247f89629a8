/**
 * JobCenter as a contender: a host made with `createHost` on SQLite (a temp folder) or MariaDB (a fresh database,
 * dropped afterwards), a project with one bundle of empty jobs, and the run rows read back.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { createHost, type Host } from '../../host/main.js';
import type { JobRecord, RunRecord, Schedule } from '../../host/domain/index.js';
import type { NewJob } from '../../host/store/types.js';
import { zip, type Files } from '../../test/helpers/zip.js';
import { newJob } from '../../test/store/builders.js';

/** The job bodies every JobCenter workload runs: empty, or returning its own lag as its result. */
export const JOB_CODE = `
export const noop = { execute() {} };
export const lag = { execute(ctx) { return String(Date.now() - ctx.scheduledAt.getTime()); } };
`;

/** The same two bodies as a `module` bundle (each job a bean) and as an `isolate` bundle (one CommonJS script). */
const MODULE_CODE = `
export default { beans: {
  noop: () => ({ execute() {} }),
  lag: () => ({ execute(ctx) { return String(Date.now() - ctx.scheduledAt.getTime()); } }),
} };
`;
const ISOLATE_CODE = `"use strict";
exports.noop = { execute() {} };
exports.lag = { execute(ctx) { return String(Date.now() - ctx.scheduledAt.getTime()); } };
`;

export function codeFor(kind: string): string {
  return kind === 'module' ? MODULE_CODE : kind === 'isolate' ? ISOLATE_CODE : JOB_CODE;
}

/** The row name of JobCenter on a database. */
export const jcLabel = (db: string): string => (db === 'mysql' ? 'JobCenter (MariaDB)' : 'JobCenter (SQLite)');

export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/test';

export interface BenchDb {
  dbUrl: string | undefined;
  drop(): Promise<void>;
}

/** SQLite: the host's default file in its data folder. MariaDB: a fresh database named after the process. */
export async function benchDb(db: string, tag = 'run'): Promise<BenchDb> {
  if (db === 'sqlite') return { dbUrl: undefined, drop: async () => undefined };
  const base = new URL(process.env.JOBCENTER_BENCH_MYSQL_URL ?? DEFAULT_MYSQL_URL);
  const name = `jcbench_${tag}_${process.pid}`;
  const admin = await mysql.createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) });
  await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await admin.query(`CREATE DATABASE \`${name}\``);
  await admin.end();
  const url = new URL(base.href);
  url.pathname = `/${name}`;
  return {
    dbUrl: url.href,
    async drop() {
      const conn = await mysql.createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) });
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}

export function bundleZip(kind: string, code = codeFor(kind), version = '1.0.0'): Promise<Buffer> {
  const files: Files = { 'jobcenter.json': JSON.stringify({ name: 'bench', version, main: 'index.js', kind }), 'index.js': code };
  if (kind !== 'isolate') files['package.json'] = JSON.stringify({ type: 'module' });
  return zip(files);
}

export interface BenchHost {
  host: Host;
  dir: string;
  /** Where its HTTP API listens. */
  url: string;
  /** Stops the host and removes its folder; the database is dropped by the caller's BenchDb. */
  close(): Promise<void>;
}

export async function startBenchHost(dbUrl: string | undefined, dir?: string): Promise<BenchHost> {
  const dataDir = dir ?? (await mkdtemp(path.join(os.tmpdir(), 'jc-bench-')));
  const host = createHost({ port: 0, bind: '127.0.0.1', dataDir, dbUrl, adminPassword: 'bench-password', logLevel: 'warn', shutdownGraceMs: 2_000 });
  const { url } = await host.start();
  return {
    host,
    dir: dataDir,
    url,
    async close() {
      await host.stop();
      if (!dir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A project with one bundle of `kind`; returns its id. Upload errors (a kind not built yet) propagate. */
export async function benchProject(host: Host, kind: string, name = 'bench'): Promise<number> {
  const { store } = host.parts;
  const admin = (await store.users.findByUsername('admin'))!;
  // Trusted: the bench runs thread, module and exec bundles (docs/isolation.md, "Trust").
  const project = await store.projects.create({ name, description: '', ownerId: admin.id, trusted: true });
  if (kind !== 'exec') await uploadVersion(host, project.id, kind, codeFor(kind), '1.0.0');
  return project.id;
}

export async function uploadVersion(host: Host, projectId: number, kind: string, code: string, version: string): Promise<number> {
  const zipFile = path.join(host.config.dataDir, `bundle-${projectId}-${version}.zip`);
  await writeFile(zipFile, await bundleZip(kind, code, version));
  const { bundle } = await host.parts.projects.uploadBundle(null, projectId, zipFile);
  return bundle.id;
}

/** A job row as the store takes it (the tests' builder): thread/isolate/module entry `lag` or `noop`, exec argv. */
export function jobRow(projectId: number, name: string, kind: string, entry: string | string[], schedule: Schedule, state: JobRecord['state']): NewJob {
  return newJob(projectId, name, {
    kind: kind as JobRecord['kind'],
    entry,
    params: null,
    config: {},
    schedule,
    maxQueue: 100,
    misfire: 'skip',
    state,
    anchorAt: state === 'ACTIVE' ? new Date() : null,
  });
}

/** Every run row of a project, page by page. */
export async function projectRuns(host: Host, projectId: number, each: (run: RunRecord) => void): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await host.parts.store.runs.list({ projectIds: [projectId], limit: 1000, cursor });
    for (const run of page.items) each(run);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** Whether an error says the host cannot run this kind yet (issue 11 is building module and isolate). */
export function notSupported(err: unknown): boolean {
  const message = (err as Error)?.message ?? String(err);
  return /not supported|unsupported|unknown kind|kind "?(module|isolate)"?/i.test(message);
}
