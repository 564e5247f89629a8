// Start-up of a host whose database already holds N active every-minute cron jobs (1,200 distinct expressions).
//   npm run build && node --no-node-snapshot bench/scale-startup.mjs 100000          # creates them, prints the folder
//   node --no-node-snapshot bench/scale-startup.mjs 100000 <folder>                 # times a start on it
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHost } from '../dist/host/main.js';
import { benchProject, jobRow } from '../dist/bench/lib/jobcenter.js';
import { scaleExpression } from '../dist/bench/lib/measure.js';
const N = Number(process.argv[2] ?? 20000);
const dir = process.argv[3] ?? (await mkdtemp(path.join(os.tmpdir(), 'jc-scale-')));
if (!process.argv[3]) {
  const h = createHost({ port: 0, bind: '127.0.0.1', dataDir: dir, adminPassword: 'x-password', logLevel: 'warn' });
  await h.start();
  const pid = await benchProject(h, 'thread');
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => { while (next < N) { const i = next++; await h.parts.store.jobs.create(jobRow(pid, 's' + i, 'thread', 'noop', { type: 'CRON', cron: scaleExpression(i) }, 'ACTIVE')); } }));
  await h.stop();
  console.log('setup done', dir);
} else {
  const t0 = performance.now();
  const h = createHost({ port: 0, bind: '127.0.0.1', dataDir: dir, adminPassword: 'x-password', logLevel: 'warn' });
  await h.start();
  console.log('start ms', (performance.now() - t0).toFixed(0), 'rss MB', (process.memoryUsage().rss / 1e6).toFixed(0), 'heap MB', (process.memoryUsage().heapUsed / 1e6).toFixed(0), 'scheduled', h.parts.engine.scheduler.size);
  await h.stop();
}
