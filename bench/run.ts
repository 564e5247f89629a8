/**
 * `npm run bench`: every workload against every contender, each run in its own process, several repetitions;
 * prints the tables and writes them, with charts, into docs/benchmarks.md between its bench markers.
 *
 *   npm run bench                      full: 3 repetitions, 60 s fire windows, up to 100,000 jobs / runs
 *   npm run bench -- --quick           1 repetition, 10 s windows, small sizes (a few minutes)
 *   npm run bench -- --only tick,scale --no-write
 *   npm run bench -- --only console    the console's API on 10,000 jobs and 1,000,000 runs (docs/benchmarks.md §6)
 *
 * Every finished step is appended to a results file as one JSON line (docs/bench/results-full.jsonl, or -quick; with
 * --no-write, jobcenter-bench-results-*.jsonl in the system's temporary folder, so docs/ is left alone),
 * and the tables are made from that file. `--resume` skips the steps the file already holds, so a full run (hours
 * on this machine) can be stopped and carried on later, even from another checkout once the file is committed.
 */
import { spawn } from 'node:child_process';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

/** One line of the results file. */
interface Recorded extends Outcome {
  rep: number;
  key: string;
  /** When the step started (ISO). */
  at: string;
}

const stepKey = (step: Step): string => [step.contender, ...step.args].join(' ');

/** How long a step may take: its fire window and setup with room to spare; holding 100,000 jobs takes longer. */
function stepTimeoutMs(step: Step, seconds: number): number {
  return step.workload === 'scale' || step.workload === 'console' ? 30 * 60_000 : seconds * 1000 + 5 * 60_000;
}

async function readRecorded(file: string): Promise<Recorded[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Recorded);
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
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, only: { type: 'string' }, 'no-write': { type: 'boolean' }, reps: { type: 'string' }, resume: { type: 'boolean' }, results: { type: 'string' } },
  });
  const quick = values.quick ?? false;
  const plan = makePlan(quick, values.only ? new Set(values.only.split(',')) : null);
  const reps = values.reps ? Number(values.reps) : plan.reps;
  // The console workload keeps its own results, so `--only console` does not empty the peers' file.
  const kind = values.only === 'console' ? 'console' : quick ? 'quick' : 'full';
  // --no-write leaves docs/ alone, its records included: they go to the system's temporary folder unless --results says.
  const ownFile = values['no-write'] ? path.join(tmpdir(), `jobcenter-bench-results-${kind}.jsonl`) : path.join(here, '..', '..', 'docs', 'bench', `results-${kind}.jsonl`);
  const resultsFile = values.results ?? ownFile;
  await mkdir(path.dirname(resultsFile), { recursive: true });
  const recorded = values.resume ? await readRecorded(resultsFile) : [];
  if (!values.resume) await writeFile(resultsFile, '');
  const done = new Set(recorded.map((r) => `${r.rep}|${r.key}`));
  if (recorded.length > 0) process.stderr.write(`resuming: ${recorded.length} steps already in ${path.relative(process.cwd(), resultsFile)}\n`);
  // Repetitions go round the whole plan, so a noisy minute on the shared machine hits one repetition, not three.
  for (let rep = 1; rep <= reps; rep++) {
    for (const step of plan.steps) {
      if (done.has(`${rep}|${stepKey(step)}`)) continue;
      process.stderr.write(`[${rep}/${reps}] ${step.workload} ${step.size} ${step.label} ... `);
      const t0 = Date.now();
      const at = new Date().toISOString();
      const { samples, minute } = await runStep(step, stepTimeoutMs(step, plan.seconds));
      const line: Recorded = { rep, key: stepKey(step), at, step, samples, minute };
      recorded.push(line);
      await appendFile(resultsFile, `${JSON.stringify(line)}\n`);
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s${samples.some((s) => s.note?.startsWith('failed')) ? ' (failed)' : ''}\n`);
    }
  }
  const planned = new Set(plan.steps.map(stepKey));
  const outcomes = recorded.filter((r) => planned.has(r.key) && r.rep <= reps);
  const started = new Date(outcomes.reduce((min, r) => (r.at < min ? r.at : min), new Date().toISOString()));
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
