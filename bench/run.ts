/**
 * `npm run bench`: every workload against every contender, each run in its own process, several repetitions;
 * prints the tables and writes them, with charts, into docs/benchmarks.md between its bench markers.
 *
 *   npm run bench                      full: 3 repetitions, 60 s fire windows, up to 100,000 jobs / runs
 *   npm run bench -- --quick           1 repetition, 10 s windows, small sizes (a few minutes)
 *   npm run bench -- --only tick,scale --no-write
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { environment, writeDocs } from './lib/docs.js';
import { RESULT_PREFIX, type Sample } from './lib/measure.js';
import { makePlan, type Step } from './lib/plan.js';
import { aggregate, table, type Outcome } from './lib/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface ChildResult {
  samples: Sample[];
  minute: number;
}

/** Runs one contender process; a crash, a timeout or no result line becomes a row saying so. */
function runStep(step: Step, timeoutMs: number): Promise<ChildResult> {
  const file = path.join(here, 'contenders', `${step.contender}.js`);
  const minute = new Date().getUTCMinutes();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', file, ...step.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code === 0 && line) return resolve({ samples: JSON.parse(line.slice(RESULT_PREFIX.length)) as Sample[], minute });
      resolve({ samples: [{ subject: step.label, metrics: {}, note: failure(code, signal, err, timeoutMs) }], minute });
    });
  });
}

function failure(code: number | null, signal: NodeJS.Signals | null, stderr: string, timeoutMs: number): string {
  if (/heap out of memory|Allocation failed/i.test(stderr)) return 'failed: ran out of the default heap (JavaScript heap out of memory)';
  if (signal === 'SIGKILL') return `failed: no result within ${Math.round(timeoutMs / 60000)} min, killed`;
  const last = stderr.trim().split('\n').find((l) => /error|failed/i.test(l)) ?? stderr.trim().split('\n').pop() ?? '';
  return `failed (exit ${code ?? signal}): ${last.replace(/\|/g, '/').slice(0, 200)}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, 'no-write': { type: 'boolean' }, reps: { type: 'string' } } });
  const quick = values.quick ?? false;
  const plan = makePlan(quick, values.only ? new Set(values.only.split(',')) : null);
  const reps = values.reps ? Number(values.reps) : plan.reps;
  const timeoutMs = quick ? 4 * 60_000 : 20 * 60_000;
  const started = new Date();
  const outcomes: Outcome[] = [];
  // Repetitions go round the whole plan, so a noisy minute on the shared machine hits one repetition, not three.
  for (let rep = 1; rep <= reps; rep++) {
    for (const step of plan.steps) {
      process.stderr.write(`[${rep}/${reps}] ${step.workload} ${step.size} ${step.label} ... `);
      const t0 = Date.now();
      const { samples, minute } = await runStep(step, timeoutMs);
      outcomes.push({ step, samples, minute });
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s${samples.some((s) => s.note?.startsWith('failed')) ? ' (failed)' : ''}\n`);
    }
  }
  const rows = aggregate(outcomes);
  const env = await environment(started, quick, reps, plan.seconds, JSON.parse(await readFile(path.join(here, '..', '..', 'package.json'), 'utf8')) as { version: string });
  const workloads = [...new Set(plan.steps.map((s) => s.workload))];
  process.stdout.write(`\n${env.summary}\n`);
  for (const w of workloads) process.stdout.write(`\n### ${w}\n\n${table(w, rows, plan.gaps)}\n`);
  if (!values['no-write']) {
    const written = await writeDocs(path.join(here, '..', '..', 'docs'), env, workloads, rows, plan.gaps);
    process.stdout.write(`\nwrote ${written.join(', ')}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
