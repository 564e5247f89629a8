/**
 * JobCenter under workload 3: a database that already holds N ACTIVE every-minute cron jobs (made in a setup
 * step with `store.jobs.create`), then, in a fresh process so nothing of the setup is warm: the start-up time of
 * a host on it, the CPU over 10 idle seconds, the RSS, and the time to stop and start again (restart recovery).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchDb, benchProject, jcLabel, jobRow, startBenchHost } from './jobcenter.js';
import { cpuMeter, RESULT_PREFIX, rssMb, scaleExpression, sleep, type Sample } from './measure.js';

const IDLE_MS = 10_000;
const CREATE_LANES = 8;

export async function jobCenterScaleSetup(db: string, jobs: number, contenderFile: string): Promise<Sample[]> {
  const bdb = await benchDb(db, 'scale');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-bench-scale-'));
  try {
    const setup = await startBenchHost(bdb.dbUrl, dir);
    const projectId = await benchProject(setup.host, 'thread');
    const { store } = setup.host.parts;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < jobs) {
        const i = next++;
        await store.jobs.create(jobRow(projectId, `scale-${i}`, 'thread', 'noop', { type: 'CRON', cron: scaleExpression(i) }, 'ACTIVE'));
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CREATE_LANES }, lane));
    const setupMs = performance.now() - t0;
    await setup.close();
    const samples = await measureInChild(contenderFile, jobs, dir, bdb.dbUrl, db);
    for (const s of samples) s.metrics.setupMs = setupMs;
    return samples;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await bdb.drop();
  }
}

function measureInChild(contenderFile: string, jobs: number, dir: string, dbUrl: string | undefined, db: string): Promise<Sample[]> {
  const args = [...process.execArgv, contenderFile, '--workload', 'scale-measure', '--size', String(jobs), '--db', db];
  const env = { ...process.env, BENCH_SCALE_DIR: dir, BENCH_SCALE_DB_URL: dbUrl ?? '' };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) reject(new Error(`scale measurement exited with ${code}`));
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as Sample[]);
    });
  });
}

/** The fresh process: start on the prepared database, idle, stop, start again. */
export async function jobCenterScaleMeasure(jobs: number, db: string): Promise<Sample[]> {
  const dir = process.env.BENCH_SCALE_DIR;
  if (!dir) throw new Error('BENCH_SCALE_DIR is not set: run the scale workload, not scale-measure');
  const dbUrl = process.env.BENCH_SCALE_DB_URL || undefined;
  let t0 = performance.now();
  const first = await startBenchHost(dbUrl, dir);
  const startMs = performance.now() - t0;
  const scheduled = first.host.parts.engine.scheduler.size;
  await sleep(1000);
  const cpu = cpuMeter();
  await sleep(IDLE_MS);
  const idleCpu = cpu();
  const rss = rssMb();
  t0 = performance.now();
  await first.close();
  const second = await startBenchHost(dbUrl, dir);
  const restartMs = performance.now() - t0;
  const rescheduled = second.host.parts.engine.scheduler.size;
  await second.close();
  const note = scheduled === jobs && rescheduled === jobs ? undefined : `scheduled ${scheduled} then ${rescheduled} of ${jobs} jobs`;
  return [{ subject: jcLabel(db), metrics: { startMs, restartMs, idleCpu, rss, scheduled }, ...(note ? { note } : {}) }];
}
