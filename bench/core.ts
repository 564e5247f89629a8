/**
 * The host core's two headline figures, in one run, beside their limits:
 *  1. recorded runs/s of an empty thread job on SQLite (every run's row inserted, run, finished), beside raw piscina
 *     running an empty task in the same process;
 *  2. the fire lag (p50 / p99 / max, missed) of 1,000 every-second cron jobs, from the fire time to the job's first
 *     line inside its worker, beside one bare timer looping over 1,000 callbacks.
 *
 *   npm run build && node --no-node-snapshot dist/bench/core.js [--runs 20000] [--jobs 1000] [--seconds 20]
 *
 * The machine is shared and noisy: compare figures inside one run. Prints a markdown table.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { createHost, type Host } from '../host/main.js';
import { threadBundle } from '../test/helpers/zip.js';

const JOB_CODE = `
export const noop = { execute() {} };
export const lag = { execute(ctx) { return String(Date.now() - ctx.scheduledAt.getTime()); } };
`;

interface Row {
  what: string;
  figure: string;
  detail: string;
}

async function rawPiscina(tasks: number): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-bench-'));
  const file = path.join(dir, 'task.mjs');
  await writeFile(file, 'export default function () { return null; }\n');
  const pool = new Piscina({ filename: file, maxThreads: 2, atomics: 'disabled' });
  await Promise.all(Array.from({ length: 64 }, () => pool.run(null)));
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks) {
      next++;
      await pool.run(null);
    }
  };
  await Promise.all(Array.from({ length: 256 }, lane));
  const perSecond = tasks / ((performance.now() - started) / 1000);
  await pool.destroy();
  await rm(dir, { recursive: true, force: true });
  return perSecond;
}

async function startBenchHost(): Promise<{ host: Host; projectId: number; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-bench-host-'));
  const host = createHost({ port: 0, bind: '127.0.0.1', dataDir: dir, adminPassword: 'bench-password', logLevel: 'warn' });
  await host.start();
  const { store, projects } = host.parts;
  const admin = (await store.users.findByUsername('admin'))!;
  const project = await store.projects.create({ name: 'bench', description: '', ownerId: admin.id });
  const zipFile = path.join(dir, 'bench.zip');
  await writeFile(zipFile, await threadBundle(JOB_CODE));
  await projects.uploadBundle(null, project.id, zipFile);
  return { host, projectId: project.id, dir };
}

async function recordedRuns(runs: number): Promise<{ perSecond: number; drainMs: number }> {
  const { host, projectId, dir } = await startBenchHost();
  const { jobs, dispatcher, store } = host.parts;
  const job = await jobs.create(null, { projectId, name: 'noop', kind: 'thread', entry: 'noop', schedule: { type: 'MANUAL' } });
  const started = performance.now();
  let fired = 0;
  const lane = async (): Promise<void> => {
    while (fired < runs) {
      fired++;
      while (dispatcher.activeCount > 2_000) await new Promise((r) => setTimeout(r, 1));
      await dispatcher.fire({ job, trigger: 'MANUAL', scheduledAt: new Date() });
    }
  };
  await Promise.all(Array.from({ length: 256 }, lane));
  const acceptedMs = performance.now() - started;
  while (dispatcher.activeCount > 0) await new Promise((r) => setTimeout(r, 5));
  await store.runWriter.flush();
  const elapsed = performance.now() - started;
  const counts = await store.runs.countByStatus(job.id);
  if (counts.SUCCEEDED !== runs) throw new Error(`expected ${runs} SUCCEEDED runs, found ${JSON.stringify(counts)}`);
  await host.stop();
  await rm(dir, { recursive: true, force: true });
  return { perSecond: runs / (elapsed / 1000), drainMs: elapsed - acceptedMs };
}

function quantiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

async function hostFireLag(jobsCount: number, seconds: number): Promise<{ p50: number; p99: number; max: number; missed: number; fires: number; cpu: number }> {
  const { host, projectId, dir } = await startBenchHost();
  const { jobs, store, engine } = host.parts;
  const ids: number[] = [];
  for (let i = 0; i < jobsCount; i++) {
    const job = await jobs.create(null, { projectId, name: `lag-${i}`, kind: 'thread', entry: 'lag', concurrency: 'ALLOW', schedule: { type: 'CRON', cron: '* * * * * *' } });
    ids.push(job.id);
  }
  for (const id of ids) await engine.startJob((await store.jobs.get(id))!, 'bench');
  // Count only fire times after every job is on the schedule.
  const windowStart = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpuBefore);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
  const windowEnd = Math.floor(Date.now() / 1000) * 1000 - 1000;
  for (const id of ids) engine.forget(id);
  await new Promise((r) => setTimeout(r, 2000));
  await store.runWriter.flush();
  const lags: number[] = [];
  let fires = 0;
  let cursor: string | undefined;
  const seen = new Set<string>();
  do {
    const page = await store.runs.list({ projectIds: [projectId], limit: 1000, cursor });
    for (const run of page.items) {
      const at = run.scheduledAt.getTime();
      if (at < windowStart || at > windowEnd) continue;
      fires++;
      seen.add(`${run.jobId}:${at}`);
      if (run.status === 'SUCCEEDED' && run.result !== null) lags.push(Number(run.result));
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  const expected = ids.length * ((windowEnd - windowStart) / 1000 + 1);
  await host.stop();
  await rm(dir, { recursive: true, force: true });
  return { ...quantiles(lags), missed: expected - seen.size, fires, cpu: cpuPercent };
}

async function bareTimerLag(callbacks: number, seconds: number): Promise<{ p50: number; p99: number; max: number; cpu: number }> {
  const lags: number[] = [];
  const fns = Array.from({ length: callbacks }, () => (fireAt: number): void => {
    lags.push(Date.now() - fireAt);
  });
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let left = seconds;
    const arm = (): void => {
      const fireAt = Math.ceil((Date.now() + 1) / 1000) * 1000;
      setTimeout(() => {
        for (const fn of fns) fn(fireAt);
        if (--left > 0) arm();
        else resolve();
      }, fireAt - Date.now());
    };
    arm();
  });
  const cpu = process.cpuUsage(cpuBefore);
  return { ...quantiles(lags), cpu: ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100 };
}

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, jobs: { type: 'string' }, seconds: { type: 'string' } } });
  const runs = Number(values.runs ?? 20_000);
  const jobsCount = Number(values.jobs ?? 1_000);
  const seconds = Number(values.seconds ?? 20);
  const rows: Row[] = [];
  const piscina = await rawPiscina(runs);
  rows.push({ what: 'raw piscina, empty task, 2 threads, 256 in flight', figure: `${fmt(piscina, 0)} tasks/s`, detail: `${runs} tasks` });
  const recorded = await recordedRuns(runs);
  rows.push({
    what: 'JobCenter on SQLite: recorded runs of an empty thread job',
    figure: `${fmt(recorded.perSecond, 0)} runs/s`,
    detail: `${runs} runs, each row inserted before it ran and finished after; ${fmt(recorded.perSecond / piscina, 2)} × raw piscina; drain after the last fire ${fmt(recorded.drainMs, 0)} ms`,
  });
  const timer = await bareTimerLag(jobsCount, seconds);
  rows.push({ what: `one bare timer, ${jobsCount} callbacks every second`, figure: `p50 ${fmt(timer.p50)} ms, p99 ${fmt(timer.p99)} ms`, detail: `max ${fmt(timer.max)} ms, CPU ${fmt(timer.cpu)} % of one core, ${seconds} s` });
  const lag = await hostFireLag(jobsCount, seconds);
  rows.push({
    what: `JobCenter on SQLite: ${jobsCount} cron jobs \`* * * * * *\`, fire time → job's first line`,
    figure: `p50 ${fmt(lag.p50)} ms, p99 ${fmt(lag.p99)} ms`,
    detail: `max ${fmt(lag.max)} ms, ${lag.fires} runs, missed ${lag.missed}, host CPU ${fmt(lag.cpu)} % of one core, ${seconds} s`,
  });
  const now = new Date();
  process.stdout.write(`\nJobCenter core bench, ${now.toISOString()} (minute ${now.getUTCMinutes()} of the hour), Node ${process.version}, ${os.cpus().length} cores\n\n`);
  process.stdout.write('| what | figure | detail |\n|---|---|---|\n');
  for (const row of rows) process.stdout.write(`| ${row.what} | ${row.figure} | ${row.detail} |\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
