/**
 * What isolation costs: one empty run through the thread executor (a piscina worker thread, the bundle's module
 * imported once per worker) and through the isolate executor (a fresh context per run in a kept isolate), run one
 * after another, p50 / p99 latency and runs/s; then the memory a loaded project adds (RSS of the process, which
 * includes worker threads and isolates) with N projects each having run once.
 *
 *   npm run build && node --no-node-snapshot dist/bench/isolation-cost.js [--runs 3000] [--projects 20]
 *
 * The machine is shared and noisy: compare figures inside one run. Prints a markdown table.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compileConfig } from '../host/config/index.js';
import type { Executor, RunHooks, RunRequest } from '../host/executors/shared/executor.js';
import { createIsolateExecutor } from '../host/executors/isolate/isolate-executor.js';
import { createThreadExecutor } from '../host/executors/thread/thread-executor.js';
import { silentLogger } from '../host/log/logger.js';

type Kind = 'thread' | 'isolate';

async function writeBundle(dir: string): Promise<void> {
  await writeFile(path.join(dir, 'thread.mjs'), 'export const empty = { execute() {} };\n');
  await writeFile(path.join(dir, 'isolate.js'), 'exports.empty = { execute() {} };\n');
}

function hooks(): RunHooks {
  return {
    log: () => undefined,
    signal: new AbortController().signal,
    cache: { get: async () => undefined, set: async () => undefined, delete: async () => undefined },
  };
}

function request(kind: Kind, dir: string, projectId: number, n: number): RunRequest {
  return {
    runId: `run-${projectId}-${n}`,
    job: { id: projectId, name: 'empty', project: `p${projectId}`, projectId },
    kind,
    entry: 'empty',
    params: null,
    config: {},
    scheduledAt: new Date(),
    attempt: 1,
    fencingToken: 'bench',
    memoryLimitMb: kind === 'thread' ? 64 : 16,
    shell: false,
    bundle: { id: projectId, dir, main: kind === 'thread' ? 'thread.mjs' : 'isolate.js' },
  };
}

async function latency(executor: Executor, kind: Kind, dir: string, runs: number): Promise<{ p50: number; p99: number; perSec: number }> {
  for (let i = 0; i < 200; i++) await executor.execute(request(kind, dir, 1, i), hooks());
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const outcome = await executor.execute(request(kind, dir, 1, i), hooks());
    if (!outcome.ok) throw new Error(`${kind} run failed: ${JSON.stringify(outcome)}`);
    times.push(performance.now() - t);
  }
  const total = performance.now() - started;
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(runs * 0.5)]!, p99: times[Math.floor(runs * 0.99)]!, perSec: (runs / total) * 1000 };
}

async function rssMb(): Promise<number> {
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 200));
  return process.memoryUsage().rss / 1024 / 1024;
}

/** RSS added per project: each project's bundle loaded (one run) and kept warm. */
async function memoryPerProject(executor: Executor, kind: Kind, dir: string, projects: number): Promise<number> {
  const base = await rssMb();
  for (let p = 100; p < 100 + projects; p++) await executor.execute(request(kind, dir, p, 0), hooks());
  return ((await rssMb()) - base) / projects;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3000' }, projects: { type: 'string', default: '20' } } });
  const runs = Number(values.runs);
  const projects = Number(values.projects);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-isolation-'));
  await writeBundle(dir);
  const config = compileConfig({ dataDir: dir, threadsPerProject: 1 });
  const rows: string[] = [];
  for (const kind of ['thread', 'isolate'] as const) {
    const executor = kind === 'thread' ? createThreadExecutor({ config, logger: silentLogger }) : createIsolateExecutor({ config, logger: silentLogger });
    try {
      const lat = await latency(executor, kind, dir, runs);
      const mem = await memoryPerProject(executor, kind, dir, projects);
      rows.push(`| ${kind} | ${lat.p50.toFixed(3)} ms | ${lat.p99.toFixed(3)} ms | ${lat.perSec.toFixed(0)} | ${mem.toFixed(1)} MB |`);
    } finally {
      await executor.close();
    }
  }
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(
    `Empty run, one at a time (${runs} runs after 200 warm-up), and RSS per loaded project (${projects} projects)\n\n` +
      '| executor | p50 | p99 | runs/s | RSS per project |\n|---|---|---|---|---|\n' +
      `${rows.join('\n')}\n`,
  );
}

await main();
