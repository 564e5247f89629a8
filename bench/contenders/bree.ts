/**
 * Contender: Bree, which starts one Worker per run. Measured where it can run: tick (one Bree job per job on
 * `* * * * * *`), throughput (manual runs, 4 jobs in parallel: Bree never runs one job twice at once) and one run
 * at a time. It records nothing, so "recorded runs/s" does not apply to it.
 *   node --no-node-snapshot dist/bench/contenders/bree.js --workload tick --size 100 --seconds 10
 */
import { existsSync } from 'node:fs';
import Bree from 'bree';
import { FireLog, fireWindow, quantiles, runContender, sitThrough, tickMetrics, type ContenderArgs, type Sample } from '../lib/measure.js';

const jobFile = (): string => {
  const js = new URL('./bree-job.js', import.meta.url);
  return existsSync(js) ? js.pathname : new URL('./bree-job.ts', import.meta.url).pathname;
};

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, log: () => undefined };

interface Ran {
  name: string;
  at: number;
}

function makeBree(jobs: Bree.JobOptions[], onRan: (ran: Ran) => void): Bree {
  return new Bree({
    root: false,
    doRootCheck: false,
    logger: silent as unknown as Bree.BreeLogger,
    jobs,
    workerMessageHandler: ({ name, message }: { name: string; message: unknown }) => {
      if (message && typeof message === 'object' && 'at' in message) onRan({ name, at: (message as { at: number }).at });
    },
  });
}

async function tick(count: number, seconds: number): Promise<Sample[]> {
  const window = fireWindow(seconds, 1500);
  const log = new FireLog(window);
  const createdAt = new Map<string, number>();
  const path = jobFile();
  const jobs = Array.from({ length: count }, (_, i) => ({ name: `j${i}`, path, cron: '* * * * * *', hasSeconds: true }));
  const bree = makeBree(jobs, ({ name, at }) => {
    // The intended fire time: the second nearest to when Bree created the run's worker (later.js fires a few ms early).
    const created = createdAt.get(name) ?? at;
    log.record(Number(name.slice(1)), Math.round(created / 1000) * 1000, at);
  });
  bree.on('worker created', (name: string) => createdAt.set(name, Date.now()));
  await bree.start();
  const { cpu, rss } = await sitThrough(window, 1500);
  await bree.stop();
  return [{ subject: 'Bree', metrics: { ...tickMetrics(log.lags, log.missed(count, 1000), cpu), rss } }];
}

/** Runs `runs` manual runs over `lanes` jobs; resolves each run when Bree deletes its worker. */
async function manualRuns(runs: number, lanes: number, each?: (ms: number) => void): Promise<number> {
  const path = jobFile();
  const bree = makeBree(Array.from({ length: lanes }, (_, i) => ({ name: `m${i}`, path })), () => undefined);
  const waiting = new Map<string, () => void>();
  bree.on('worker deleted', (name: string) => waiting.get(name)?.());
  let next = 0;
  const t0 = performance.now();
  const lane = async (name: string): Promise<void> => {
    while (next++ < runs) {
      const started = performance.now();
      const done = new Promise<void>((resolve) => waiting.set(name, resolve));
      await bree.run(name);
      await done;
      each?.(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, i) => lane(`m${i}`)));
  const perSecond = runs / ((performance.now() - t0) / 1000);
  await bree.stop();
  return perSecond;
}

async function main(args: ContenderArgs): Promise<Sample[]> {
  switch (args.workload) {
    case 'tick':
      return tick(args.size, args.seconds);
    case 'throughput':
      return [{ subject: 'Bree, 4 jobs in parallel', metrics: { runsPerSec: await manualRuns(args.size, 4) }, note: 'runs not recorded: Bree keeps no run history' }];
    case 'isolation': {
      const lags: number[] = [];
      await manualRuns(Math.min(args.size, 20), 1);
      await manualRuns(Math.min(args.size, 200), 1, (ms) => lags.push(ms));
      const q = quantiles(lags);
      return [{ subject: 'Bree (new Worker per run)', metrics: { p50Us: q.p50 * 1000, p99Us: q.p99 * 1000 } }];
    }
    default:
      throw new Error(`Bree has no workload ${args.workload}`);
  }
}

runContender(main);
