/**
 * p50/p99 of an empty run: raw piscina vs the thread executor (run port, context, console routing, result).
 * Run: node --no-node-snapshot --import tsx bench/thread-overhead.ts [iterations]
 */
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { createThreadExecutor } from '../host/executors/thread/thread-executor.js';
import { silentLogger } from '../host/log/logger.js';
import { fixtureDir, recordingHooks, testConfig, threadRequest } from '../test/executors/helpers.js';

const iterations = Number(process.argv[2] ?? 2000);

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(label: string, once: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 200; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await once();
    samples.push(performance.now() - t0);
  }
  const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;
  process.stdout.write(`${label.padEnd(28)} p50 ${us(percentile(samples, 50))}  p99 ${us(percentile(samples, 99))}\n`);
}

const raw = new Piscina({ filename: `${fixtureDir('.')}/raw-worker.mjs`, minThreads: 1, maxThreads: 1, atomics: 'disabled' });
await measure('raw piscina (atomics off)', () => raw.run({}));
await raw.destroy();
const rawSync = new Piscina({ filename: `${fixtureDir('.')}/raw-worker.mjs`, minThreads: 1, maxThreads: 1 });
await measure('raw piscina (atomics sync)', () => rawSync.run({}));
await rawSync.destroy();

const executor = createThreadExecutor({ config: testConfig({ threadsPerProject: 1 }), logger: silentLogger });
await measure('thread executor', () => executor.execute(threadRequest('plain'), recordingHooks()));
await executor.close();
