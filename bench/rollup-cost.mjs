/**
 * What the run rollups' upsert costs per batch of ends (docs/decisions.md, "Minute cells per project"): batches of
 * 1,000 ends of 1,000 jobs of one project, one a second of fire time (so hour cells and minute cells are added to, as
 * on a busy host); per batch the milliseconds to build the statement (rollupUpsert) and to run it alone. Medians over
 * the batches after a warm-up.
 *
 *   node bench/rollup-cost.mjs [--db sqlite|mysql] [--batches 120] [CHECKOUT]
 *
 * CHECKOUT is a built tree (`npx tsc -b`) to measure, this one by default; a git worktree of an older commit can share
 * this one's node_modules through a symlink. MariaDB: a scratch database `jc_rollup_cost` on JOBCENTER_BENCH_MYSQL_URL
 * (default mysql://root@127.0.0.1:3306), dropped at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';

const { values, positionals } = parseArgs({
  options: { db: { type: 'string', default: 'sqlite' }, batches: { type: 'string', default: '120' } },
  allowPositionals: true,
});
const tree = path.resolve(positionals[0] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const load = (file) => import(pathToFileURL(path.join(tree, 'dist/host', file)).href);
const { openStoreContext } = await load('store/context.js');
const { rollupUpsert } = await load('store/run-rollups.js');
const { silentLogger } = await load('log/logger.js');

const JOBS = 1_000;
const WARM = 20;
let config;
let drop;
if (values.db === 'sqlite') {
  const dir = mkdtempSync(path.join(tmpdir(), 'jc-rollup-cost-'));
  config = { dialect: 'sqlite', file: path.join(dir, 'jobcenter.db') };
  drop = async () => rmSync(dir, { recursive: true, force: true });
} else {
  const base = new URL(process.env.JOBCENTER_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306');
  const admin = () => mysql.createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) });
  const conn = await admin();
  await conn.query('DROP DATABASE IF EXISTS `jc_rollup_cost`');
  await conn.query('CREATE DATABASE `jc_rollup_cost`');
  await conn.end();
  config = { dialect: 'mysql', url: new URL('/jc_rollup_cost', base).href };
  drop = async () => {
    const c = await admin();
    await c.query('DROP DATABASE IF EXISTS `jc_rollup_cost`');
    await c.end();
  };
}

const ctx = await openStoreContext(config, silentLogger);
const literal = (value) => ctx.driver.literal(value);
const build = [];
const run = [];
const t0 = Date.UTC(2026, 11, 7, 10);
for (let b = 0; b < WARM + Number(values.batches); b++) {
  const fired = t0 + b * 1_000;
  const facts = Array.from({ length: JOBS }, (_, i) => ({ jobId: i + 1, projectId: 1, status: 'SUCCEEDED', trigger: 'SCHEDULE', fired, started: fired + 2, ended: fired + 5 }));
  const a = performance.now();
  const sql = rollupUpsert(facts, ctx.traits, literal);
  const m = performance.now();
  await ctx.driver.run(sql);
  const z = performance.now();
  if (b >= WARM) {
    build.push(m - a);
    run.push(z - m);
  }
}
await ctx.sequelize.close();
await drop();
const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1];
process.stdout.write(`${tree} ${values.db}: per batch of ${JOBS} ends, build ${median(build).toFixed(2)} ms, run ${median(run).toFixed(2)} ms (median of ${build.length})\n`);
