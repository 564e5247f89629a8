/**
 * Writes the generated part of docs/benchmarks.md (between `<!-- bench:start -->` and `<!-- bench:end -->`; the
 * hand-written text around it stays) and the charts in docs/bench/.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { DEFAULT_MYSQL_URL } from './jobcenter.js';
import type { Gap, Workload } from './plan.js';
import { charts, table, type Row } from './report.js';
import { barChart } from './svg.js';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';
/** The console workload (`--only console`) has a section of its own, so it does not replace the peers' tables. */
const CONSOLE_START = '<!-- console-bench:start -->';
const CONSOLE_END = '<!-- console-bench:end -->';
const PACKAGES = ['node-cron', 'croner', 'bree', 'piscina', 'isolated-vm', 'sqlite3', 'mysql2', 'sequelize'];

export interface Environment {
  summary: string;
}

async function versionOf(root: string, name: string): Promise<string> {
  try {
    return (JSON.parse(await readFile(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

async function mariaDbVersion(): Promise<string> {
  try {
    const conn = await mysql.createConnection(process.env.JOBCENTER_BENCH_MYSQL_URL ?? DEFAULT_MYSQL_URL);
    const [rows] = await conn.query('SELECT VERSION() AS v');
    await conn.end();
    return (rows as { v: string }[])[0].v;
  } catch {
    return 'unreachable';
  }
}

export async function environment(started: Date, quick: boolean, reps: number, seconds: number, pkg: { version: string }): Promise<Environment> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const versions = await Promise.all(PACKAGES.map(async (p) => `${p} ${await versionOf(root, p)}`));
  const cpu = os.cpus();
  const mode = quick
    ? `**quick run** (\`npm run bench -- --quick\`): ${reps} repetition, ${seconds} s fire windows, reduced sizes — indicative only`
    : `full run (\`npm run bench\`): ${reps} repetitions, ${seconds} s fire windows`;
  const summary = [
    `Run of ${started.toISOString().replace(/\.\d+Z$/, 'Z')} (started at minute ${started.getUTCMinutes()} of the hour), ${mode}.`,
    `Machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GB, ${os.type()} ${os.release()}, shared with other work (noisy).`,
    `Node ${process.version}; JobCenter ${pkg.version}; ${versions.join(', ')}; MariaDB ${await mariaDbVersion()}.`,
    reps > 1 ? 'A cell is the median of the repetitions, with min–max in brackets when they differ.' : 'One repetition: a cell is that run\'s figure.',
  ].join('\n');
  return { summary };
}

const TITLES: Record<Workload, string> = {
  tick: '1. Tick fidelity: every-second cron jobs, all fired together',
  spread: '1b. Tick fidelity, spread: 1 s INTERVAL jobs with phases spread over the second',
  throughput: '2. Throughput: manual runs of an empty job, every run recorded',
  rest: '2b. Throughput through the REST API (`POST /api/v1/jobs/:id/trigger`, 32 requests in flight)',
  scale: '3. Scale: holding many every-minute cron jobs',
  isolation: '4. Isolation cost: one empty run at a time',
  reload: '5. Reload: a new bundle version half way through a 1,000-job tick test',
  console: "6. The console's API and pages: 10,000 jobs, 1,000,000 runs, one request at a time",
};

export async function writeDocs(docsDir: string, env: Environment, workloads: Workload[], rows: Row[], gaps: Gap[]): Promise<string[]> {
  const chartDir = path.join(docsDir, 'bench');
  await mkdir(chartDir, { recursive: true });
  const written: string[] = [];
  const made = charts(rows);
  for (const [file, chart] of Object.entries(made)) {
    await writeFile(path.join(chartDir, file), barChart(chart));
    written.push(`docs/bench/${file}`);
  }
  const chartFor: Partial<Record<Workload, string>> = { tick: 'tick-p99.svg', throughput: 'throughput.svg', scale: 'scale-rss.svg', isolation: 'isolation-p50.svg' };
  const ownSection = workloads.includes('console');
  const parts = [ownSection ? CONSOLE_START : START, '', env.summary];
  for (const w of workloads) {
    parts.push('', `### ${TITLES[w]}`, '', table(w, rows, gaps));
    const chart = chartFor[w];
    if (chart && made[chart]) parts.push('', `![${made[chart].title}](bench/${chart})`);
  }
  const [start, end] = ownSection ? [CONSOLE_START, CONSOLE_END] : [START, END];
  parts.push('', end);
  const file = path.join(docsDir, 'benchmarks.md');
  const page = await readFile(file, 'utf8');
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file} has no ${start} … ${end} markers to write between`);
  await writeFile(file, page.slice(0, from) + parts.join('\n') + page.slice(to + end.length));
  written.push('docs/benchmarks.md');
  return written;
}
