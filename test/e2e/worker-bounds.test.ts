/**
 * Everything a thread or module worker sends the host is bounded and read defensively (issue 22, item 1): a job that
 * hands over a value too big ends its own run with an error naming the limit and the size, and the host (a real
 * CLI host, so a crash would show as its exit) and the other runs go on.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWithProject, type SpawnedProject } from '../helpers/host.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { finishedRun } from '../helpers/runs.js';
import { zip } from '../helpers/zip.js';
import type { ContractRun } from '../helpers/run-contract.js';

const THREAD_JOBS = `
import { parentPort } from 'node:worker_threads';
export const bigCacheString = { async execute(ctx) { await ctx.cache.set('big', 'c'.repeat(100e6)); return 'stored'; } };
export const bigCacheObject = {
  async execute(ctx) {
    await ctx.cache.set('rows', Array.from({ length: 100000 }, (_, i) => ({ i, text: 'row ' + i + ' ' + 'y'.repeat(20) })));
    return 'stored';
  },
};
export const smallCache = { async execute(ctx) { await ctx.cache.set('small', { a: 1 }); return JSON.stringify(await ctx.cache.get('small')); } };
export const bigResult = { execute() { return 'r'.repeat(100e6); } };
export const bigObjectResult = { execute() { return { rows: Array.from({ length: 300000 }, (_, i) => 'row ' + i + ' ' + 'z'.repeat(20)) }; } };
export const bigError = { execute() { throw new Error('e'.repeat(100e6)); } };
export const replacedStringify = {
  async execute(ctx) {
    JSON.stringify = () => { throw new Error('replaced JSON.stringify'); };
    ctx.log.info('a line after JSON.stringify was replaced');
    await ctx.cache.set('after', { still: 'json' });
    return { still: 'a result' };
  },
};
export const forgedBig = {
  execute() {
    parentPort.postMessage({ type: 'batch', json: '['.repeat(20e6) });
    return new Promise(() => {});
  },
};
export const ok = { execute() { return 'ok'; } };
`;

const MODULE_JOBS = `
export default {
  beans: {
    bigCache: () => ({ async execute(ctx) { await ctx.cache.set('big', 'c'.repeat(100e6)); return 'stored'; } }),
    bigResult: () => ({ execute() { return 'r'.repeat(100e6); } }),
    bigError: () => ({ execute() { throw new Error('e'.repeat(100e6)); } }),
    ok: () => ({ execute() { return 'ok'; } }),
  },
};
`;

for (const database of testDatabases()) {
  describe(`what a worker sends the host is bounded (${database.name})`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    let dataDir: string;
    let host: SpawnedProject;
    let moduleProject: number;

    before(async () => {
      made = await database.make();
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-bounds-'));
      host = await spawnWithProject({ dataDir, db: made.db, project: 'bounds', code: THREAD_JOBS });
      host.child.stdout?.resume();
      host.child.stderr?.resume();
      const created = await host.api.post('/api/v1/projects', { name: 'bounds-module' });
      moduleProject = created.body.id;
      const bundle = await zip({ 'jobcenter.json': JSON.stringify({ name: 'bounds-module', version: '1.0.0', main: 'index.mjs', kind: 'module' }), 'index.mjs': MODULE_JOBS });
      const uploaded = await host.api.upload(moduleProject, bundle);
      assert.equal(uploaded.status, 201, uploaded.text);
    });

    after(async () => {
      host?.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
      await made?.drop();
    });

    async function run(entry: string, kind: 'thread' | 'module' = 'thread'): Promise<ContractRun> {
      const projectId = kind === 'thread' ? host.projectId : moduleProject;
      const job = await host.api.post('/api/v1/jobs', { projectId, kind, name: `${entry}-${Math.random().toString(36).slice(2, 8)}`, entry, schedule: { type: 'MANUAL' }, timeoutMs: 60_000 });
      assert.equal(job.status, 201, job.text);
      const trigger = await host.api.post(`/api/v1/jobs/${job.body.id}/trigger`);
      assert.equal(trigger.status, 202, trigger.text);
      return finishedRun(host.api, trigger.body.runId, { timeoutMs: 60_000 });
    }

    /** The host is up and a plain run of each kind still succeeds. */
    async function hostAndNeighboursFine(): Promise<void> {
      assert.equal(host.child.exitCode, null, 'the host process is alive');
      assert.equal(host.child.signalCode, null, 'the host process is alive');
      const health = await fetch(`${host.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal((await run('ok')).status, 'SUCCEEDED');
      assert.equal((await run('ok', 'module')).status, 'SUCCEEDED');
    }

    test('a 100 MB cache value is refused in the job, naming the limit and the size', async () => {
      const failed = await run('bigCacheString');
      assert.equal(failed.status, 'FAILED');
      assert.equal(failed.error?.code, 'CACHE_VALUE_TOO_LARGE', JSON.stringify(failed.error));
      assert.match(failed.error!.message, /at most 1,048,576 characters of JSON; this one takes 100,000,000 or more/);
      const object = await run('bigCacheObject');
      assert.equal(object.status, 'FAILED');
      assert.equal(object.error?.code, 'CACHE_VALUE_TOO_LARGE', JSON.stringify(object.error));
      assert.equal((await run('smallCache')).result, '{"a":1}');
      await hostAndNeighboursFine();
    });

    test('a result or an error too big to cut ends only its run, with an error naming the limit', async () => {
      const result = await run('bigResult');
      assert.equal(result.status, 'FAILED');
      assert.equal(result.error?.code, 'RESULT_TOO_LARGE', JSON.stringify(result.error));
      assert.match(result.error!.message, /it has 100,000,000 characters/);
      const object = await run('bigObjectResult');
      assert.equal(object.status, 'FAILED');
      assert.equal(object.error?.code, 'RESULT_TOO_LARGE', JSON.stringify(object.error));
      const error = await run('bigError');
      assert.equal(error.status, 'FAILED');
      assert.ok(error.error!.message.length < 20_000, `the error's message is cut (${error.error!.message.length} characters)`);
      await hostAndNeighboursFine();
    });

    test('a job that replaces JSON.stringify does not reach the host', async () => {
      const replaced = await run('replacedStringify');
      assert.equal(replaced.status, 'SUCCEEDED', JSON.stringify(replaced.error));
      assert.equal(replaced.result, '{"still":"a result"}');
      const log = await host.api.get(`/api/v1/runs/${replaced.runId}/log`);
      assert.match(log.text, /a line after JSON.stringify was replaced/);
      await hostAndNeighboursFine();
    });

    test('an oversize message posted by job code on the worker port ends that worker, saying the limit and the size', async () => {
      const forged = await run('forgedBig');
      assert.equal(forged.status, 'FAILED');
      assert.equal(forged.error?.code, 'WORKER_MESSAGE_UNREADABLE', JSON.stringify(forged.error));
      assert.match(forged.error!.message, /20,000,000 characters, over the limit of 16,777,216/);
      await hostAndNeighboursFine();
    });

    test('a module job gets the same bounds', async () => {
      const cache = await run('bigCache', 'module');
      assert.equal(cache.status, 'FAILED');
      assert.equal(cache.error?.code, 'CACHE_VALUE_TOO_LARGE', JSON.stringify(cache.error));
      const result = await run('bigResult', 'module');
      assert.equal(result.status, 'FAILED');
      assert.equal(result.error?.code, 'RESULT_TOO_LARGE', JSON.stringify(result.error));
      const error = await run('bigError', 'module');
      assert.equal(error.status, 'FAILED');
      assert.ok(error.error!.message.length < 20_000, `the error's message is cut (${error.error!.message.length} characters)`);
      await hostAndNeighboursFine();
    });
  });
}
