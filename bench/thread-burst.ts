/**
 * A burst of runs at one instant (1,000 cron jobs on `* * * * * *` firing together) against the thread executor:
 * lag from the fire time to the job's first line (the job returns `Date.now() - scheduledAt`), p50/p99/max, the
 * time until every run of the burst finished, and the p50 of one run at a time (compare bench/thread-overhead.ts).
 * Run: node --no-node-snapshot --import tsx bench/thread-burst.ts [burstSize] [bursts]
 */
import { performance } from 'node:perf_hooks';
import type { RunHooks, RunOutcome, RunRequest } from '../host/executors/shared/executor.js';
import { createThreadExecutor, type ThreadExecutor } from '../host/executors/thread/thread-executor.js';
import { silentLogger } from '../host/log/logger.js';
import { testConfig, threadRequest } from '../test/executors/helpers.js';

const burstSize = Number(process.argv[2] ?? 1000);
const bursts = Number(process.argv[3] ?? 10);

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// Requests and hooks as a dispatcher would build them: one bundle object, no per-run file system look-ups.
const base = threadRequest('lag');
let runs = 0;
function request(entry: string, scheduledAt: Date): RunRequest {
  runs++;
  return { ...base, entry, scheduledAt, runId: `00000000-0000-4000-8000-${String(runs).padStart(12, '0')}` };
}
const noCache = { get: async () => undefined, set: async () => {}, delete: async () => {} };
function hooks(): RunHooks {
  return { signal: new AbortController().signal, log() {}, cache: noCache, started() {} };
}

function resultOf(outcome: RunOutcome): string {
  if (!outcome.ok || outcome.result === null) throw new Error(`run failed: ${JSON.stringify(outcome)}`);
  return outcome.result;
}

async function burst(executor: ThreadExecutor): Promise<{ lags: number[]; allDoneMs: number }> {
  const t0 = performance.now();
  const scheduledAt = new Date();
  const pending: Array<Promise<RunOutcome>> = [];
  for (let i = 0; i < burstSize; i++) pending.push(executor.execute(request('lag', scheduledAt), hooks()));
  const outcomes = await Promise.all(pending);
  const allDoneMs = performance.now() - t0;
  return { lags: outcomes.map((o) => Number(resultOf(o))), allDoneMs };
}

async function sequential(executor: ThreadExecutor, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    resultOf(await executor.execute(request('plain', new Date()), hooks()));
    samples.push(performance.now() - t0);
  }
  return samples;
}

const executor = createThreadExecutor({ config: testConfig(), logger: silentLogger });
await sequential(executor, 200);
await burst(executor);
await new Promise((resolve) => setTimeout(resolve, 500));
const rows: string[] = [];
for (let b = 0; b < bursts; b++) {
  // Fire on a fresh macrotask a little after a 100 ms boundary, as a timer-driven scheduler would.
  await new Promise((resolve) => setTimeout(resolve, 100 - (Date.now() % 100)));
  const { lags, allDoneMs } = await burst(executor);
  rows.push(`burst ${b + 1}: lag p50 ${percentile(lags, 50)} ms  p99 ${percentile(lags, 99)} ms  max ${Math.max(...lags)} ms  all done ${allDoneMs.toFixed(1)} ms`);
  await new Promise((resolve) => setTimeout(resolve, 300));
}
const seq = await sequential(executor, 2000);
await executor.close();
process.stdout.write(`${burstSize} runs at once, threads ${testConfig().threadsPerProject}\n${rows.join('\n')}\n`);
process.stdout.write(`one at a time: p50 ${(percentile(seq, 50) * 1000).toFixed(0)} µs  p99 ${(percentile(seq, 99) * 1000).toFixed(0)} µs\n`);
