/**
 * What every contender process shares: its arguments, the statistics it reports, and the one line of JSON it
 * prints. Contenders print `BENCH_RESULT {...}` on stdout so that stray output of a library cannot be mistaken
 * for a result.
 */
import { parseArgs } from 'node:util';

export const RESULT_PREFIX = 'BENCH_RESULT ';

/** One measured subject of a contender's run: a row of a table, before medians across repetitions. */
export interface Sample {
  subject: string;
  metrics: Record<string, number>;
  /** Said in the table instead of figures, e.g. why the subject could not run. */
  note?: string;
}

export interface ContenderArgs {
  workload: string;
  size: number;
  seconds: number;
  quick: boolean;
  kind: string;
  db: string;
  variant: string;
}

export function contenderArgs(): ContenderArgs {
  const { values } = parseArgs({
    options: {
      workload: { type: 'string' },
      size: { type: 'string' },
      seconds: { type: 'string' },
      quick: { type: 'boolean' },
      kind: { type: 'string' },
      db: { type: 'string' },
      variant: { type: 'string' },
    },
  });
  if (!values.workload) throw new Error('--workload is required');
  return {
    workload: values.workload,
    size: Number(values.size ?? 1000),
    seconds: Number(values.seconds ?? 10),
    quick: values.quick ?? false,
    kind: values.kind ?? 'thread',
    db: values.db ?? 'sqlite',
    variant: values.variant ?? '',
  };
}

/** Prints the result line; the orchestrator reads only this line. */
export function emit(samples: Sample[]): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(samples)}\n`);
}

/** Runs a contender's main, prints its samples, and leaves the exit code to say whether it worked. */
export function runContender(main: (args: ContenderArgs) => Promise<Sample[]>): void {
  main(contenderArgs())
    .then((samples) => {
      emit(samples);
      // Libraries under test may leave handles (a pool, a timer) open; the result is out, so leave.
      setTimeout(() => process.exit(0), 50).unref();
    })
    .catch((err: unknown) => {
      process.stderr.write(`contender failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}

export interface Quantiles {
  p50: number;
  p99: number;
  max: number;
}

export function quantiles(values: number[]): Quantiles {
  if (values.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}

/** CPU of the whole process (all its threads) over a window, in percent of one core. */
export function cpuMeter(): () => number {
  const before = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const used = process.cpuUsage(before);
    return ((used.user + used.system) / 1000 / (performance.now() - t0)) * 100;
  };
}

export const rssMb = (): number => process.memoryUsage().rss / 1048576;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, checking every `stepMs`, for at most `limitMs`; returns whether it held. */
export async function waitUntil(done: () => boolean, limitMs: number, stepMs = 5): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
  return true;
}

/** The wall-clock time, which is what fire times are compared to (ms, with sub-ms precision). */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/**
 * The fire times a tick test counts, [from, to): whole seconds, starting one second after everything was
 * scheduled (the warm-up). Every job of period 1 s, whatever its phase, has exactly (to - from) / 1000 fires in it.
 */
export interface FireWindow {
  from: number;
  to: number;
}

export function fireWindow(seconds: number, warmupMs = 1000): FireWindow {
  const from = Math.ceil((Date.now() + warmupMs) / 1000) * 1000;
  return { from, to: from + seconds * 1000 };
}

export function expectedFires(window: FireWindow, everyMs: number): number {
  return Math.floor((window.to - window.from) / everyMs);
}

/** Lag samples and fire counts of a cron-like contender, gathered inside its callbacks. */
export class FireLog {
  readonly lags: number[] = [];
  private readonly seen = new Map<number, Set<number>>();
  constructor(private readonly window: FireWindow) {}

  /** Records one fire of `job` meant for `fireAt`, observed now. */
  record(job: number, fireAt: number, observedAt = wallNow()): void {
    if (fireAt < this.window.from || fireAt >= this.window.to) return;
    let times = this.seen.get(job);
    if (!times) this.seen.set(job, (times = new Set()));
    times.add(fireAt);
    this.lags.push(observedAt - fireAt);
  }

  /** Fires that should have happened in the window but were never observed, over `jobs` jobs. */
  missed(jobs: number, everyMs: number): number {
    const per = expectedFires(this.window, everyMs);
    let missed = 0;
    for (let job = 0; job < jobs; job++) missed += Math.max(0, per - (this.seen.get(job)?.size ?? 0));
    return missed;
  }
}

/** The figures of a tick test in the shape every contender reports. */
export function tickMetrics(lags: number[], missed: number, cpu: number): Record<string, number> {
  const q = quantiles(lags);
  return { p50: q.p50, p99: q.p99, max: q.max, fires: lags.length, missed, cpu, rss: rssMb() };
}

/** Sleeps through the window, measuring CPU and RSS inside it, then waits `tailMs` for late fires to land. */
export async function sitThrough(window: FireWindow, tailMs: number, during?: (elapsedMs: number) => Promise<void>): Promise<{ cpu: number; rss: number }> {
  await sleep(Math.max(0, window.from - Date.now()));
  const cpu = cpuMeter();
  if (during) await during(window.to - window.from);
  await sleep(Math.max(0, window.to - Date.now()));
  const result = { cpu: cpu(), rss: rssMb() };
  await sleep(tailMs);
  return result;
}

/**
 * The scale workload's expression for job i: every minute, at second i % 60, of one hour of the day that is at
 * least two hours away from now, so the idle window holds no fire (20 hours × 60 seconds = 1,200 distinct
 * expressions). Holding jobs is measured, not running them.
 */
export function scaleExpression(i: number, nowHour = new Date().getHours()): string {
  const hour = (nowHour + 2 + (Math.floor(i / 60) % 20)) % 24;
  return `${i % 60} * ${hour} * * *`;
}
