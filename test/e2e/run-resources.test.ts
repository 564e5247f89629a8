/**
 * Every run that started says what it used: `cpuMs` and `peakMemoryMb` on its row, for each kind of job (thread,
 * module, isolate, exec), over HTTP on a real host, on SQLite and on MySQL/MariaDB. A CPU-heavy run shows about the
 * CPU it burnt (measured by the job itself where it can), a memory-heavy run shows more than it held.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { startHost, type TestHost } from '../helpers/host.js';
import type { ContractRun } from '../helpers/run-contract.js';
import { finishedRun } from '../helpers/runs.js';
import { threadBundle, zip } from '../helpers/zip.js';

/** MiB the memory-heavy jobs hold while they run. */
const HOARD_MB = 64;
/** CPU the CPU-heavy jobs burn (thread CPU for thread and module, process CPU for exec, wall time for isolate). */
const BURN_MS = 400;

/** Job bodies shared by the thread bundle and the module beans: `threadCpuMs` reads the worker thread's own clock. */
const WORKER_JOBS = `
import { closeSync, openSync, readSync } from 'node:fs';
const threadCpuMs = () => {
  const fd = openSync('/proc/thread-self/schedstat', 'r');
  try {
    const buf = Buffer.alloc(64);
    return Number(buf.toString('latin1', 0, readSync(fd, buf, 0, 64, 0)).split(' ')[0]) / 1e6;
  } finally {
    closeSync(fd);
  }
};
const hoardMb = async (mb) => {
  const chunks = [];
  for (let k = 0; k < mb; k++) {
    const chunk = [];
    for (let i = 0; i < 131072; i++) chunk.push(i + 0.5);
    chunks.push(chunk);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  return String(chunks.length);
};
const jobs = {
  idle: { execute: () => 'idle' },
  burn: {
    execute(ctx) {
      const from = threadCpuMs();
      let used = 0;
      while ((used = threadCpuMs() - from) < ctx.params.ms) for (let i = 0; i < 1e5; i++);
      return String(used);
    },
  },
  hoard: { execute: (ctx) => hoardMb(ctx.params.mb) },
  fails: { execute() { throw new Error('on purpose'); } },
  waits: { execute: (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('stopped'))) },
  Planner: { resolve: () => [] },
};
`;

const THREAD_MAIN = `${WORKER_JOBS}
export const { idle, burn, hoard, fails, waits, Planner } = jobs;
`;

const MODULE_MAIN = `${WORKER_JOBS}
export default { beans: Object.fromEntries(Object.entries(jobs).map(([name, job]) => [name, () => job])) };
`;

const ISOLATE_MAIN = `"use strict";
exports.idle = { execute: () => 'idle' };
exports.burn = { execute(ctx) { const end = Date.now() + ctx.params.ms; while (Date.now() < end); return String(ctx.params.ms); } };
exports.hoard = {
  async execute(ctx) {
    const chunks = [];
    for (let k = 0; k < ctx.params.mb; k++) {
      const chunk = [];
      for (let i = 0; i < 131072; i++) chunk.push(i + 0.5);
      chunks.push(chunk);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    return String(chunks.length);
  },
};
`;

/** Node one-liners for exec jobs: the process's own CPU (all its threads) is what the row must show. */
const EXEC_BURN = `let used = 0; while ((used = (process.cpuUsage().user + process.cpuUsage().system) / 1000) < ${BURN_MS}) for (let i = 0; i < 1e5; i++); console.log(used);`;
const EXEC_HOARD = `const held = Buffer.alloc(${HOARD_MB} * 1048576, 1); setTimeout(() => console.log(held.length), 400);`;

type Run = ContractRun;

for (const database of testDatabases()) {
  describe(`run resources on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    const projects = new Map<string, number>();

    async function project(name: string, bundle: Buffer | null): Promise<number> {
      const created = await th.api.post('/api/v1/projects', { name });
      assert.equal(created.status, 201, created.text);
      if (bundle) {
        const upload = await th.api.upload(created.body.id, bundle);
        assert.equal(upload.status, 201, upload.text);
      }
      return created.body.id;
    }

    /** Creates a job, runs it once and returns its finished run (checked against the contract, resources included). */
    async function runOnce(kind: string, name: string, body: Record<string, unknown>): Promise<Run> {
      const projectId = projects.get(kind === 'exec' ? 'thread' : kind)!;
      const job = await th.api.post('/api/v1/jobs', { projectId, name: `${kind}-${name}`, kind, schedule: { type: 'MANUAL' }, ...body });
      assert.equal(job.status, 201, job.text);
      const trigger = await th.api.post(`/api/v1/jobs/${job.body.id}/trigger`);
      assert.equal(trigger.status, 202, trigger.text);
      return (await finishedRun(th.api, trigger.body.runId, { timeoutMs: 30_000, resources: true })) as Run;
    }

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db });
      projects.set('thread', await project('res-thread', await threadBundle(THREAD_MAIN)));
      const moduleZip = await zip({ 'jobcenter.json': JSON.stringify({ name: 'res-module', version: '1.0.0', main: 'index.mjs', kind: 'module' }), 'index.mjs': MODULE_MAIN });
      projects.set('module', await project('res-module', moduleZip));
      const isolateZip = await zip({ 'jobcenter.json': JSON.stringify({ name: 'res-isolate', version: '1.0.0', main: 'job.js', kind: 'isolate' }), 'job.js': ISOLATE_MAIN });
      projects.set('isolate', await project('res-isolate', isolateZip));
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    for (const kind of ['thread', 'module'] as const) {
      test(`${kind} runs carry their worker's CPU time and heap, whether they succeed, fail, time out or resolve`, async () => {
        const idle = await runOnce(kind, 'idle', { entry: 'idle' });
        assert.equal(idle.status, 'SUCCEEDED', idle.error?.message);
        const burn = await runOnce(kind, 'burn', { entry: 'burn', params: { ms: BURN_MS } });
        const burnt = Number(burn.result);
        assert.ok(burnt >= BURN_MS, `the job burnt ${burnt} ms of its thread's CPU`);
        assert.ok(burn.cpuMs! >= burnt - 1 && burn.cpuMs! <= burnt + 150, `cpuMs ${burn.cpuMs} is about the ${burnt} ms the job burnt`);
        const hoard = await runOnce(kind, 'hoard', { entry: 'hoard', params: { mb: HOARD_MB } });
        assert.equal(hoard.result, String(HOARD_MB));
        assert.ok(hoard.peakMemoryMb! >= HOARD_MB, `peakMemoryMb ${hoard.peakMemoryMb} covers the ${HOARD_MB} MiB held`);
        assert.ok(idle.peakMemoryMb! < hoard.peakMemoryMb!, `an idle run (${idle.peakMemoryMb} MiB) shows less than a hoarding one`);
        assert.equal((await runOnce(kind, 'fails', { entry: 'fails' })).status, 'FAILED');
        assert.equal((await runOnce(kind, 'waits', { entry: 'waits', timeoutMs: 300 })).status, 'TIMED_OUT');
        if (kind === 'thread') assert.equal((await runOnce(kind, 'planner', { entry: 'Planner' })).status, 'SUCCEEDED');
      });
    }

    test('isolate runs carry their isolate CPU time and heap', async () => {
      const idle = await runOnce('isolate', 'idle', { entry: 'idle' });
      assert.equal(idle.status, 'SUCCEEDED', idle.error?.message);
      const burn = await runOnce('isolate', 'burn', { entry: 'burn', params: { ms: BURN_MS } });
      // The job spins for BURN_MS of wall time; on a busy machine it gets less than a core meanwhile.
      assert.ok(burn.cpuMs! <= BURN_MS + 100 && burn.cpuMs! >= BURN_MS * 0.3, `cpuMs ${burn.cpuMs} is about the ${BURN_MS} ms spin`);
      const hoard = await runOnce('isolate', 'hoard', { entry: 'hoard', params: { mb: HOARD_MB }, memoryLimitMb: 256 });
      assert.equal(hoard.status, 'SUCCEEDED', hoard.error?.message);
      assert.ok(hoard.peakMemoryMb! >= HOARD_MB, `peakMemoryMb ${hoard.peakMemoryMb} covers the ${HOARD_MB} MiB held`);
    });

    test("exec runs carry their process group's CPU time and memory, killed ones too", async () => {
      // Not `echo` alone: a command that ends within a millisecond or so can be gone before its memory is read.
      const idle = await runOnce('exec', 'idle', { entry: ['sh', '-c', 'sleep 0.3; echo idle'] });
      assert.equal(idle.status, 'SUCCEEDED', idle.error?.message);
      const burn = await runOnce('exec', 'burn', { entry: [process.execPath, '-e', EXEC_BURN] });
      const burnt = Number(burn.result);
      assert.ok(burnt >= BURN_MS, `the command burnt ${burnt} ms of CPU`);
      // Missed: at most one sampling period (100 ms) at the end; added: Node's own exit after the print.
      assert.ok(burn.cpuMs! >= burnt - 150 && burn.cpuMs! <= burnt + 150, `cpuMs ${burn.cpuMs} is about the ${burnt} ms the command burnt`);
      const hoard = await runOnce('exec', 'hoard', { entry: [process.execPath, '-e', EXEC_HOARD] });
      assert.equal(hoard.result, String(HOARD_MB * 1048576));
      assert.ok(hoard.peakMemoryMb! >= HOARD_MB, `peakMemoryMb ${hoard.peakMemoryMb} covers the ${HOARD_MB} MiB held`);
      assert.equal((await runOnce('exec', 'sleeps', { entry: ['sleep', '10'], timeoutMs: 300 })).status, 'TIMED_OUT');
    });
  });
}
