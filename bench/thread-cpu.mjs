/**
 * Where one bench run's CPU goes, thread by thread. On 2 cores the host thread, the job workers, SQLite's writer (on
 * libuv's thread pool) and V8's platform threads (GC, the optimising compiler) share the CPU, so a burst is bounded
 * by all of them; a CPU profile of the host thread does not show the others (docs/benchmarks.md, "Where a burst's CPU
 * goes, thread by thread").
 *
 *   node bench/thread-cpu.mjs [--dir .] [--workload throughput] [--size 40000] [--db sqlite] [--top 0]
 *
 * `--top N` also prints each kind of thread's N busiest functions (samples where the function itself was running).
 *
 * Needs Linux `perf`. It samples the whole process at 999 Hz (`perf record -g -p PID`), so a sample is about 1 ms of
 * CPU; set-up is included. Threads are told apart by what they run: the process's own thread is the host's, a thread
 * with JS of thread-worker.js is a job worker, one with a tenth or more of its samples in node_sqlite3 is SQLite's,
 * and the rest are V8's platform threads and libuv's other work.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.' },
    workload: { type: 'string', default: 'throughput' },
    size: { type: 'string', default: '40000' },
    db: { type: 'string', default: 'sqlite' },
    top: { type: 'string', default: '0' },
  },
});

const scratch = mkdtempSync(path.join(tmpdir(), 'jc-thread-cpu-'));
const data = path.join(scratch, 'perf.data');
try {
  const args = ['--no-node-snapshot', '--perf-basic-prof', 'dist/bench/contenders/jobcenter.js', '--workload', values.workload, '--size', values.size, '--seconds', '10', '--db', values.db];
  const bench = spawn(process.execPath, args, { cwd: values.dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const benchEnded = new Promise((resolve) => bench.on('exit', resolve));
  let out = '';
  bench.stdout.on('data', (chunk) => (out += chunk));
  // perf follows the threads that exist when it attaches: node starts its own (V8's platform threads, libuv's pool)
  // in its first moments, well before the bench's set-up ends.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const perf = spawn('perf', ['record', '-F', '999', '-g', '-p', String(bench.pid), '-o', data], { stdio: 'ignore' });
  const perfEnded = new Promise((resolve) => perf.on('exit', resolve));
  await benchEnded;
  // perf stops with the process it follows; SIGINT ends it in case it did not.
  perf.kill('SIGINT');
  await perfEnded;
  const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (line) process.stdout.write(`${line.slice('BENCH_RESULT '.length)}\n`);

  const script = spawnSync('perf', ['script', '-i', data, '-G', '-F', 'tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
  /** tid → symbol → samples */
  const threads = new Map();
  for (const sample of script.stdout.split('\n')) {
    const [tid, , ...rest] = sample.trim().split(/\s+/);
    if (!tid || rest.length === 0) continue;
    const symbol = rest.join(' ').replace(/\+0x[0-9a-f]+/, '');
    const counts = threads.get(tid) ?? new Map();
    counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
    threads.set(tid, counts);
  }
  const totals = { host: 0, workers: 0, sqlite: 0, 'v8 platform and other': 0 };
  let sqliteLibrary = 0;
  /** kind → symbol → samples */
  const symbols = new Map();
  for (const [tid, counts] of threads) {
    let all = 0;
    let inSqlite = 0;
    let worker = false;
    for (const [symbol, n] of counts) {
      all += n;
      if (symbol.includes('node_sqlite3')) inSqlite += n;
      if (symbol.includes('thread-worker')) worker = true;
    }
    sqliteLibrary += inSqlite;
    const kind = tid === String(bench.pid) ? 'host' : worker ? 'workers' : inSqlite >= all / 10 ? 'sqlite' : 'v8 platform and other';
    totals[kind] += all;
    const ofKind = symbols.get(kind) ?? new Map();
    for (const [symbol, n] of counts) ofKind.set(symbol, (ofKind.get(symbol) ?? 0) + n);
    symbols.set(kind, ofKind);
  }
  const total = Object.values(totals).reduce((sum, n) => sum + n, 0);
  process.stdout.write(`CPU samples (~1 ms each): ${Object.entries(totals).map(([k, n]) => `${k} ${n}`).join(', ')}; total ${total}; in the sqlite3 library ${sqliteLibrary}\n`);
  const top = Number(values.top);
  for (const [kind, counts] of top > 0 ? symbols : []) {
    process.stdout.write(`${kind}:\n`);
    for (const [symbol, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${String(n).padStart(6)}  ${symbol}\n`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
