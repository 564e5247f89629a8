/**
 * What a thread or module run leaves running goes with it (issue 22, item 4): timers still pending at its end are
 * cleared, saying so in its log, while timers made at module load keep going; child processes it spawned are gone
 * shortly after its end, setsid grandchildren too; children of a run still going die when the host stops, or when it
 * is killed with SIGKILL (the direct child at once, a setsid grandchild when the next host starts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, exited, sleep, spawnWithProject, startHost, type TestHost } from '../helpers/host.js';
import { isAlive } from '../helpers/processes.js';
import type { ContractRun } from '../helpers/run-contract.js';
import { finishedRun } from '../helpers/runs.js';
import { threadBundle, zip } from '../helpers/zip.js';

/** Thread jobs; `params.file` is where timers write their ticks. */
const THREAD_JOBS = `
import { appendFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { setTimeout as timersSetTimeout } from 'node:timers';
import { setTimeout as later } from 'node:timers/promises';
let loadTicks = 0;
setInterval(() => loadTicks++, 20);
const tick = (file, what) => () => appendFileSync(file, what + '\\n');
const pidOf = (child) => new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.on('error', reject);
  child.on('exit', () => resolve(out.trim()));
});
export const ticker = {
  execute(ctx) {
    setInterval(tick(ctx.params.file, 'interval'), 50);
    timersSetTimeout(tick(ctx.params.file, 'timeout'), 300);
    setImmediate(() => setTimeout(tick(ctx.params.file, 'nested'), 400));
    later(500).then(tick(ctx.params.file, 'promise'), () => {});
    const done = setTimeout(() => {}, 10);
    clearTimeout(done);
    return 'armed';
  },
};
export const loadTimer = { execute: () => String(loadTicks) };
export const spawner = {
  execute(ctx) {
    const child = spawn('sleep', ['300'], { detached: ctx.params.detached, stdio: 'ignore' });
    return String(child.pid);
  },
};
export const grandparent = {
  execute: () => pidOf(spawn('sh', ['-c', 'setsid sleep 300 >/dev/null 2>&1 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'] })),
};
export const missing = {
  execute: () => new Promise((resolve) => spawn('no-such-command-here').on('error', (err) => resolve(err.code))),
};
export const hanging = {
  async execute(ctx) {
    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    const grandchild = await pidOf(spawn('sh', ['-c', 'setsid sleep 300 >/dev/null 2>&1 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    writeFileSync(ctx.params.file, child.pid + ' ' + grandchild);
    await new Promise(() => {});
  },
};
`;

/** A module whose bean `ticker` arms an interval in each run, and whose bean `boot` keeps one from its factory. */
const MODULE_JOBS = `
import { appendFileSync } from 'node:fs';
export default {
  beans: {
    boot: () => {
      const state = { ticks: 0 };
      setInterval(() => state.ticks++, 20);
      return state;
    },
    ticker: async (ctx) => {
      const boot = await ctx.get('boot');
      return {
        execute(run) {
          setInterval(() => appendFileSync(run.params.file, 'interval\\n'), 50);
          return String(boot.ticks);
        },
      };
    },
  },
};
`;

async function readTicks(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}

describe('leftovers of thread and module runs', () => {
  let th: TestHost;
  let threadProject: number;
  let moduleProject: number;
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'jc-leftovers-'));
    th = await startHost();
    threadProject = (await th.api.post('/api/v1/projects', { name: 'leftovers' })).body.id;
    assert.equal((await th.api.upload(threadProject, await threadBundle(THREAD_JOBS))).status, 201);
    moduleProject = (await th.api.post('/api/v1/projects', { name: 'leftovers-module' })).body.id;
    const moduleZip = await zip({ 'jobcenter.json': JSON.stringify({ name: 'leftovers-module', version: '1.0.0', main: 'index.mjs', kind: 'module' }), 'index.mjs': MODULE_JOBS });
    const upload = await th.api.upload(moduleProject, moduleZip);
    assert.equal(upload.status, 201, upload.text);
  });

  after(async () => {
    await th?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  /** Triggers a job of the project (made on first use) and returns its finished run and its log. */
  async function run(projectId: number, kind: string, entry: string, params: Record<string, unknown> = {}): Promise<{ run: ContractRun; log: string }> {
    const job = await th.api.post('/api/v1/jobs', { projectId, name: `${entry}-${Math.random().toString(36).slice(2, 8)}`, kind, entry, params, schedule: { type: 'MANUAL' } });
    assert.equal(job.status, 201, job.text);
    const trigger = await th.api.post(`/api/v1/jobs/${job.body.id}/trigger`);
    assert.equal(trigger.status, 202, trigger.text);
    const finished = await finishedRun(th.api, trigger.body.runId);
    const log = await th.api.get(`/api/v1/runs/${finished.runId}/log`);
    assert.equal(log.status, 200, log.text);
    return { run: finished, log: log.text };
  }

  test("a thread run's timers do not tick after its end, and its log says how many were cleared", async () => {
    const file = path.join(scratch, 'thread-ticks');
    const { run: ended, log } = await run(threadProject, 'thread', 'ticker', { file });
    assert.equal(ended.status, 'SUCCEEDED', JSON.stringify(ended.error));
    await sleep(1_500);
    assert.equal(await readTicks(file), '', 'no timer of the run fired after its end');
    // The interval, the node:timers timeout, the immediate (still pending: the run ended in the same macrotask) and
    // the node:timers/promises one; not the timeout it cleared itself.
    assert.match(log, /4 timers \(setTimeout, setInterval or setImmediate\) still pending at the run's end cleared/);
  });

  test('timers made at module load belong to no run and keep going', async () => {
    const first = Number((await run(threadProject, 'thread', 'loadTimer')).run.result);
    await sleep(300);
    const second = Number((await run(threadProject, 'thread', 'loadTimer')).run.result);
    assert.ok(second > first, `the module-level interval kept ticking (${first} then ${second})`);
  });

  test("a module run's timers do not tick after its end; a bean's own timer from its factory keeps going", async () => {
    const file = path.join(scratch, 'module-ticks');
    const first = await run(moduleProject, 'module', 'ticker', { file });
    assert.equal(first.run.status, 'SUCCEEDED', JSON.stringify(first.run.error));
    assert.match(first.log, /1 timer \(setTimeout, setInterval or setImmediate\) still pending at the run's end cleared/);
    await sleep(1_500);
    assert.equal(await readTicks(file), '', 'no timer of the run fired after its end');
    const second = await run(moduleProject, 'module', 'ticker', { file: path.join(scratch, 'module-ticks-2') });
    assert.ok(Number(second.run.result) > Number(first.run.result), 'the bean factory\'s interval kept ticking across runs');
  });

  for (const detached of [false, true]) {
    test(`a child process a thread run spawned (detached: ${detached}) and left running is gone shortly after the run's end`, async () => {
      const { run: ended, log } = await run(threadProject, 'thread', 'spawner', { detached });
      assert.equal(ended.status, 'SUCCEEDED', JSON.stringify(ended.error));
      const pid = Number(ended.result);
      assert.ok(pid > 0, `the job returned its child's pid (${ended.result})`);
      await eventually(`child ${pid} to end`, async () => (isAlive(pid) ? undefined : true), 5_000);
      assert.match(log, new RegExp(`1 child process of this run \\(pid ${pid}\\) still running at its end: sent SIGTERM`));
    });
  }

  test("a setsid grandchild of a thread run is gone shortly after the run's end", async () => {
    const { run: ended } = await run(threadProject, 'thread', 'grandparent');
    assert.equal(ended.status, 'SUCCEEDED', JSON.stringify(ended.error));
    const pid = Number(ended.result);
    assert.ok(pid > 0, `the job returned its grandchild's pid (${ended.result})`);
    await eventually(`grandchild ${pid} to end`, async () => (isAlive(pid) ? undefined : true), 5_000);
  });

  test('a command that does not exist still fails the way Node says (ENOENT)', async () => {
    const { run: ended } = await run(threadProject, 'thread', 'missing');
    assert.equal(ended.status, 'SUCCEEDED', JSON.stringify(ended.error));
    assert.equal(ended.result, 'ENOENT');
  });
});

describe('children of runs still going when the host ends', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-leftovers-host-'));
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Starts a CLI host whose run spawns a child and a setsid grandchild and never ends; resolves with both pids. */
  async function hostWithChildren(name: string): Promise<{ child: import('node:child_process').ChildProcess; pids: number[] }> {
    const file = path.join(dataDir, `${name}-pids`);
    const spawned = await spawnWithProject({ dataDir: path.join(dataDir, name), project: name, code: THREAD_JOBS });
    const job = await spawned.job({ name: 'hanging', entry: 'hanging', params: { file }, schedule: { type: 'MANUAL' } });
    assert.equal((await spawned.api.post(`/api/v1/jobs/${job}/trigger`)).status, 202);
    const text = await eventually('the run to spawn its children', async () => (await readTicks(file)) || undefined);
    const pids = text.split(' ').map(Number);
    for (const pid of pids) assert.ok(isAlive(pid), `process ${pid} runs while its run does`);
    return { child: spawned.child, pids };
  }

  test('a graceful stop of the host ends the children and grandchildren of its runs', async () => {
    const { child, pids } = await hostWithChildren('graceful');
    child.kill('SIGTERM');
    await exited(child);
    for (const pid of pids) await eventually(`process ${pid} to end`, async () => (isAlive(pid) ? undefined : true), 5_000);
  });

  test('a host killed with SIGKILL takes its runs\' children along; the next host start ends their setsid grandchildren', async () => {
    const { child, pids } = await hostWithChildren('killed');
    child.kill('SIGKILL');
    await exited(child);
    const [direct, grandchild] = pids as [number, number];
    await eventually(`child ${direct} to end`, async () => (isAlive(direct) ? undefined : true), 5_000);
    const next = await startHost({ dataDir: path.join(dataDir, 'next') });
    try {
      await eventually(`grandchild ${grandchild} to end`, async () => (isAlive(grandchild) ? undefined : true), 5_000);
    } finally {
      await next.stop();
    }
  });
});
