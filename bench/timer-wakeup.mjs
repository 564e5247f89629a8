/**
 * What one timer wakeup costs the process on this machine: a worker thread with a setInterval of N ms, and nothing
 * else, against one whose only timer never fires; the process's CPU over 10 s (docs/benchmarks.md, stop 43). Each
 * beat of a worker's heartbeat and each read of the pool's watch is such a wakeup, which is why they run only while a
 * run runs (docs/decisions.md, "Blocked and oversized workers").
 *
 *   node bench/timer-wakeup.mjs [--rounds 2] [--seconds 10] [--intervals 20,100]
 */
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, seconds: { type: 'string' }, intervals: { type: 'string' } } });
const rounds = Number(values.rounds ?? 2);
const seconds = Number(values.seconds ?? 10);
const intervals = (values.intervals ?? '20,100').split(',').map(Number);

/** The process's CPU (ms) over the window, with one worker whose interval is `ms` (0: a timer that never fires). */
async function cpuWith(ms) {
  const code = `setInterval(() => {}, ${ms > 0 ? ms : 1e9});`;
  const worker = new Worker(code, { eval: true });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const used = process.cpuUsage(before);
  await worker.terminate();
  return (used.user + used.system) / 1000;
}

for (let round = 1; round <= rounds; round++) {
  const idle = await cpuWith(0);
  const cells = [`round ${round}: no wakeups ${idle.toFixed(1)} ms`];
  for (const ms of intervals) {
    const cpu = await cpuWith(ms);
    const wakeups = (seconds * 1000) / ms;
    cells.push(`every ${ms} ms ${cpu.toFixed(1)} ms (${(((cpu - idle) / wakeups) * 1000).toFixed(0)} µs per wakeup)`);
  }
  console.log(cells.join('; '));
}
