/**
 * What node-cron and croner are measured on, in the same way: N tasks on `* * * * * *` with an empty body that
 * records its lag (tick), and N tasks on the scale workload's expressions held for 10 idle seconds (scale).
 * One task object per job, each library's defaults.
 */
import { cpuMeter, FireLog, fireWindow, rssMb, scaleExpression, sitThrough, sleep, tickMetrics, wallNow, type Sample } from './measure.js';

export interface CronLibrary {
  name: string;
  /** Schedules `fn` on `expression`; fn receives the intended fire time when the library says it, else null. */
  schedule(expression: string, fn: (intendedAt: number | null) => void): { stop(): void };
}

/**
 * The intended fire time of an every-second fire: what the library reports, or else the second the callback ran
 * in (exact while lags stay under a second; above that a fire counts for the next second and the one before as
 * missed).
 */
const fireTimeOf = (intendedAt: number | null, observedAt: number): number => intendedAt ?? Math.floor(observedAt / 1000) * 1000;

export async function cronTick(lib: CronLibrary, jobs: number, seconds: number): Promise<Sample[]> {
  const window = fireWindow(seconds, 1500);
  const log = new FireLog(window);
  const tasks = Array.from({ length: jobs }, (_, i) =>
    lib.schedule('* * * * * *', (intendedAt) => {
      const observedAt = wallNow();
      log.record(i, fireTimeOf(intendedAt, observedAt), observedAt);
    }),
  );
  const { cpu, rss } = await sitThrough(window, 1500);
  for (const task of tasks) task.stop();
  return [{ subject: lib.name, metrics: { ...tickMetrics(log.lags, log.missed(jobs, 1000), cpu), rss } }];
}

export async function cronScale(lib: CronLibrary, jobs: number): Promise<Sample[]> {
  const t0 = performance.now();
  const tasks: { stop(): void }[] = [];
  for (let i = 0; i < jobs; i++) tasks.push(lib.schedule(scaleExpression(i), () => undefined));
  const startMs = performance.now() - t0;
  await sleep(1000);
  const cpu = cpuMeter();
  await sleep(10_000);
  const idleCpu = cpu();
  const rss = rssMb();
  for (const task of tasks) task.stop();
  return [{ subject: lib.name, metrics: { startMs, idleCpu, rss, scheduled: tasks.length } }];
}
