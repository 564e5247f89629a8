/**
 * Contender: the limits, what no host can beat on this machine. A direct function call; one bare timer over a
 * list of callbacks; raw piscina running an empty task; raw sqlite3 / mysql2 batched run rows; a bare spawn.
 *   node --no-node-snapshot dist/bench/contenders/limits.js --workload tick --size 1000 --seconds 10
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FireLog, fireWindow, quantiles, runContender, sitThrough, tickMetrics, type ContenderArgs, type Sample } from '../lib/measure.js';

/** One timer, re-armed for the next due phase; at each it calls every callback of that phase in a loop. */
async function bareTimer(jobs: number, seconds: number, spread: boolean): Promise<Sample[]> {
  const window = fireWindow(seconds);
  const log = new FireLog(window);
  // Phase of callback i within the second (0 for the cron-like variant), grouped by phase.
  const byPhase = new Map<number, number[]>();
  for (let i = 0; i < jobs; i++) {
    const phase = spread ? Math.floor((i * 1000) / jobs) : 0;
    const group = byPhase.get(phase);
    if (group) group.push(i);
    else byPhase.set(phase, [i]);
  }
  const phases = [...byPhase.keys()].sort((a, b) => a - b);
  const callbacks = Array.from({ length: jobs }, (_, i) => (fireAt: number): void => log.record(i, fireAt));
  let timer: NodeJS.Timeout | undefined;
  // The next fire follows the last one, not the clock, so a late timer fires the phases it passed instead of
  // skipping them.
  const following = (after: number): number => {
    const second = Math.floor(after / 1000) * 1000;
    for (const p of phases) if (second + p > after) return second + p;
    return second + 1000 + phases[0];
  };
  const arm = (fireAt: number): void => {
    timer = setTimeout(() => {
      let due = fireAt;
      do {
        for (const i of byPhase.get(due % 1000) ?? []) callbacks[i](due);
        due = following(due);
      } while (due <= Date.now());
      arm(due);
    }, Math.max(0, fireAt - Date.now()));
  };
  arm(following(Date.now()));
  const { cpu, rss } = await sitThrough(window, 500);
  clearTimeout(timer);
  return [{ subject: 'one bare timer', metrics: { ...tickMetrics(log.lags, log.missed(jobs, 1000), cpu), rss } }];
}

/** Heavy modules load only in the workloads that use them, so a tick test's RSS is not theirs. */
async function piscinaPool(): Promise<{ pool: import('piscina').Piscina; close(): Promise<void> }> {
  const { Piscina } = await import('piscina');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-bench-piscina-'));
  const file = path.join(dir, 'task.mjs');
  await writeFile(file, 'export default function () { return null; }\n');
  const pool = new Piscina({ filename: file, maxThreads: 2, atomics: 'disabled' });
  await Promise.all(Array.from({ length: 64 }, () => pool.run(null)));
  // The folder goes at exit, not in close(): a worker piscina starts while it is being destroyed still imports the
  // task file, and a missing file failed one repetition of the full run.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return { pool, close: () => pool.destroy() };
}

async function throughput(runs: number): Promise<Sample[]> {
  const empty = async (): Promise<null> => null;
  let t0 = performance.now();
  for (let i = 0; i < runs; i++) await empty();
  const direct = runs / ((performance.now() - t0) / 1000);
  const { pool, close } = await piscinaPool();
  t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next++ < runs) await pool.run(null);
  };
  await Promise.all(Array.from({ length: 256 }, lane));
  const piscina = runs / ((performance.now() - t0) / 1000);
  await close();
  const { rawMysql, rawSqlite } = await import('../lib/limits-db.js');
  const samples: Sample[] = [
    { subject: 'direct async call', metrics: { runsPerSec: direct } },
    { subject: 'raw piscina, 2 threads, 256 in flight', metrics: { runsPerSec: piscina } },
    { subject: 'raw sqlite3, 1,000-row INSERT + upsert', metrics: { runsPerSec: await rawSqlite(runs) } },
  ];
  try {
    samples.push({ subject: 'raw mysql2, 1,000-row INSERT + upsert', metrics: { runsPerSec: await rawMysql(runs) } });
  } catch (err) {
    samples.push({ subject: 'raw mysql2, 1,000-row INSERT + upsert', metrics: {}, note: `MariaDB unreachable: ${(err as Error).message}` });
  }
  return samples;
}

async function latencies(runs: number, once: () => Promise<unknown>): Promise<{ p50Us: number; p99Us: number }> {
  for (let i = 0; i < Math.min(100, runs); i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    samples.push(performance.now() - t0);
  }
  const q = quantiles(samples);
  return { p50Us: q.p50 * 1000, p99Us: q.p99 * 1000 };
}

const bareSpawn = (): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn('/bin/true', [], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });

async function isolation(runs: number): Promise<Sample[]> {
  const empty = async (): Promise<null> => null;
  const { pool, close } = await piscinaPool();
  const samples: Sample[] = [
    { subject: 'direct async call', metrics: await latencies(runs, empty) },
    { subject: 'raw piscina, one task at a time', metrics: await latencies(runs, () => pool.run(null)) },
  ];
  await close();
  samples.push({ subject: 'bare spawn of /bin/true', metrics: await latencies(Math.min(runs, 500), bareSpawn) });
  return samples;
}

async function main(args: ContenderArgs): Promise<Sample[]> {
  switch (args.workload) {
    case 'tick':
      return bareTimer(args.size, args.seconds, false);
    case 'spread':
      return bareTimer(args.size, args.seconds, true);
    case 'throughput':
      return throughput(args.size);
    case 'isolation':
      return isolation(args.size);
    default:
      throw new Error(`the limits have no workload ${args.workload}`);
  }
}

runContender(main);
