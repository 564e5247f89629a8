/**
 * Fire lag of the scheduler: N jobs on `* * * * * *` for a few seconds, each fire's lag = when its (empty) callback
 * ran minus its fire time. Also the cost of holding many jobs on a few hundred distinct expressions.
 *
 *   node --no-node-snapshot --import tsx bench/scheduler-lag.ts [jobs=1000] [seconds=10] [heldJobs=100000]
 *
 * The machine is shared and noisy; compare figures from one run, and note the minute of the hour (reference
 * measured-limits.md §3: node-cron's cost depends on it; this scheduler's should not).
 */
import { pathToFileURL } from 'node:url';
import { silentLogger } from '../host/log/logger.js';
import { Scheduler } from '../host/scheduler/scheduler.js';

export interface LagResult {
  jobs: number;
  seconds: number;
  fires: number;
  batches: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cpuPercent: number;
  minuteOfHour: number;
}

export async function measureFireLag(jobs: number, seconds: number): Promise<LagResult> {
  const lags: number[] = [];
  let batches = 0;
  const noop = (_jobId: number): void => undefined;
  const scheduler = new Scheduler({
    logger: silentLogger,
    onFire(fires) {
      batches++;
      for (const fire of fires) {
        noop(fire.jobId);
        lags.push(performance.timeOrigin + performance.now() - fire.fireAt.getTime());
      }
    },
  });
  for (let jobId = 1; jobId <= jobs; jobId++) scheduler.add(jobId, { type: 'CRON', cron: '* * * * * *' }, null);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  scheduler.start();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 200));
  scheduler.stop();
  const cpu = process.cpuUsage(cpuBefore);
  const elapsedMs = performance.now() - started;
  lags.sort((a, b) => a - b);
  const at = (q: number): number => round(lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? Number.NaN);
  return {
    jobs,
    seconds,
    fires: lags.length,
    batches,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: round(lags[lags.length - 1] ?? Number.NaN),
    cpuPercent: round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100),
    minuteOfHour: new Date().getMinutes(),
  };
}

export interface HoldResult {
  jobs: number;
  distinctExpressions: number;
  scheduleMs: number;
  heapUsedMb: number;
  rssMb: number;
}

/** Schedules `jobs` jobs spread over `distinct` expressions (and two zones) and reports time and memory. */
export function measureHolding(jobs: number, distinct: number): HoldResult {
  const scheduler = new Scheduler({ logger: silentLogger, onFire: () => undefined });
  const zones = [undefined, 'Europe/Berlin'];
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  for (let jobId = 1; jobId <= jobs; jobId++) {
    const k = jobId % distinct;
    const zone = zones[k % 2];
    scheduler.add(jobId, { type: 'CRON', cron: `${k % 60} ${Math.floor(k / 60) % 60} * * * *`, ...(zone ? { timezone: zone } : {}) }, null);
  }
  const scheduleMs = performance.now() - started;
  globalThis.gc?.();
  const memory = process.memoryUsage();
  const result = {
    jobs: scheduler.size,
    distinctExpressions: distinct,
    scheduleMs: round(scheduleMs),
    heapUsedMb: round((memory.heapUsed - heapBefore) / 1048576),
    rssMb: round(memory.rss / 1048576),
  };
  scheduler.stop();
  return result;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [jobs = 1000, seconds = 10, held = 100_000] = process.argv.slice(2).map(Number);
  const lag = await measureFireLag(jobs, seconds);
  process.stdout.write(`fire lag: ${JSON.stringify(lag)}\n`);
  const hold = measureHolding(held, 300);
  process.stdout.write(`holding: ${JSON.stringify(hold)}\n`);
}
