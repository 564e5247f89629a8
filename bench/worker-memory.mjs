/**
 * What one thread pool worker costs the process, by worker file: K workers of the file, each importing a one-job
 * bundle, then two collections; the process's RSS growth per worker and one worker's heap (docs/benchmarks.md,
 * "A worker's modules in one file").
 *
 *   node --no-node-snapshot --expose-gc bench/worker-memory.mjs [--workers 8] [--rounds 2] FILE...
 *
 * FILE is a worker entry of a built checkout: `dist/host/executors/thread/thread-worker.bundle.js` (what the host
 * starts), `…/thread-worker.js` (its unbundled modules), or an older tree's `dist/host/loader/thread-worker.js`.
 * The files are measured in turn, round after round, each in a fresh process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

const { values, positionals } = parseArgs({
  options: { workers: { type: 'string', default: '8' }, rounds: { type: 'string', default: '2' }, measure: { type: 'boolean', default: false } },
  allowPositionals: true,
});

const rssMb = () => (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / 1048576;
const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** In the fresh process: start the workers of one file, one after the other, and print one JSON line. */
async function measure(file, count, mainUrl) {
  // The worker's own entry runs as it does in the host; this wrapper only reads its heap once it is ready.
  const wrapper = `
    const { workerData } = require('node:worker_threads');
    const v8 = require('node:v8');
    import(workerData.file).then(() => setTimeout(() => {
      globalThis.gc(); globalThis.gc();
      const h = v8.getHeapStatistics();
      require('node:worker_threads').parentPort.postMessage({ heap: h.used_heap_size, physical: h.total_physical_size, external: h.external_memory });
    }, 1500));`;
  globalThis.gc();
  await settle(300);
  const before = rssMb();
  const workers = [];
  let heap = null;
  for (let i = 0; i < count; i++) {
    const worker = new Worker(wrapper, {
      eval: true,
      workerData: { file: pathToFileURL(file).href, mainUrl, vitals: new SharedArrayBuffer(4096) },
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    workers.push(worker);
    // The pool worker's own 'ready' comes first, then the wrapper's figures.
    heap = await new Promise((resolve) => worker.on('message', (m) => m && typeof m === 'object' && 'heap' in m && resolve(m)));
  }
  globalThis.gc();
  await settle(300);
  const perWorker = (rssMb() - before) / count;
  for (const worker of workers) await worker.terminate();
  const mb = (bytes) => +(bytes / 1048576).toFixed(2);
  process.stdout.write(`${JSON.stringify({ rssPerWorkerMb: +perWorker.toFixed(2), heapMb: mb(heap.heap), physicalMb: mb(heap.physical), externalMb: mb(heap.external) })}\n`);
}

if (values.measure) {
  await measure(positionals[0], Number(values.workers), positionals[1]);
} else {
  const scratch = mkdtempSync(path.join(tmpdir(), 'jc-worker-memory-'));
  try {
    const job = path.join(scratch, 'job.mjs');
    writeFileSync(job, 'export const lag = { execute(ctx) { return String(Date.now() - ctx.scheduledAt.getTime()); } };\n');
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const file of positionals) {
        const args = ['--no-node-snapshot', '--expose-gc', process.argv[1], '--measure', '--workers', values.workers, path.resolve(file), pathToFileURL(job).href];
        const out = spawnSync(process.execPath, args, { encoding: 'utf8' });
        process.stdout.write(`${file}  ${out.stdout.trim() || out.stderr.trim()}\n`);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
