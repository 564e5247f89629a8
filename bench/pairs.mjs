/**
 * Two builds of the host compared by pairs: one run of each, back to back, the order swapped every round (A B, B A,
 * …), and the ratio B/A taken pair by pair. This machine's speed drifts by ±10 % from minute to minute, so a
 * difference of a few per cent needs this; 16–20 pairs resolve ~1–2 % (docs/benchmarks.md, "Issue 24's throughput
 * cost, found by pairs").
 *
 *   node bench/pairs.mjs --a /path/to/checkout-a --b /path/to/checkout-b [--pairs 16] [--size 20000] [--db sqlite]
 *
 * Each checkout must be built (`npx tsc -b`); a git worktree of an older commit can share this one's node_modules
 * through a symlink. The workload is the contender's throughput run (runs/s of `dispatcher.fire`, every run recorded).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    pairs: { type: 'string', default: '16' },
    size: { type: 'string', default: '20000' },
    db: { type: 'string', default: 'sqlite' },
    workload: { type: 'string', default: 'throughput' },
  },
});
if (!values.a || !values.b) {
  process.stderr.write('usage: node bench/pairs.mjs --a DIR --b DIR [--pairs 16] [--size 20000] [--db sqlite|mysql]\n');
  process.exit(2);
}

/** runs/s of one run of the workload in `dir`. */
function once(dir) {
  const args = ['--no-node-snapshot', 'dist/bench/contenders/jobcenter.js', '--workload', values.workload, '--size', values.size, '--seconds', '10', '--db', values.db];
  const run = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const line = run.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  const perSec = line ? JSON.parse(line.slice('BENCH_RESULT '.length))[0]?.metrics?.runsPerSec : undefined;
  if (typeof perSec !== 'number') throw new Error(`no result from ${dir} (exit ${run.status}): ${run.stderr.slice(-2000)}`);
  return perSec;
}

const ratios = [];
for (let i = 1; i <= Number(values.pairs); i++) {
  let a;
  let b;
  if (i % 2 === 1) {
    a = once(values.a);
    b = once(values.b);
  } else {
    b = once(values.b);
    a = once(values.a);
  }
  ratios.push(b / a);
  process.stdout.write(`pair ${i}: A ${a.toFixed(0)} runs/s, B ${b.toFixed(0)} runs/s, B/A ${(b / a).toFixed(3)}\n`);
}
const mean = ratios.reduce((sum, r) => sum + r, 0) / ratios.length;
const sd = Math.sqrt(ratios.reduce((sum, r) => sum + (r - mean) ** 2, 0) / Math.max(1, ratios.length - 1));
const lower = ratios.filter((r) => r < 1).length;
process.stdout.write(`B/A = ${mean.toFixed(3)} ± ${(sd / Math.sqrt(ratios.length)).toFixed(3)} (standard error; ${ratios.length} pairs, B lower in ${lower})\n`);
