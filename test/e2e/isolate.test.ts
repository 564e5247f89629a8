/**
 * Isolate jobs over HTTP on a real host: a single-file CommonJS bundle is uploaded, introspected in an isolate and
 * run every second, while a memory bomb and an endless loop in the same project fail their own runs only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, startHost, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { zip } from '../helpers/zip.js';

const MAIN = `"use strict";
exports.heartbeat = {
  async execute(ctx) {
    const n = ((await ctx.cache.get('n')) || 0) + 1;
    await ctx.cache.set('n', n);
    ctx.log.info('beat %d', n);
    return { n, typeofProcess: typeof process, typeofRequire: typeof require };
  },
};
exports.bomb = { execute() { const hoard = []; for (;;) hoard.push(new Array(1000).fill(hoard.length)); } };
exports.loop = { execute() { for (;;) {} } };
exports.Planner = class { resolve() { return []; } };
`;

function isolateBundle(main: string): Promise<Buffer> {
  return zip({ 'jobcenter.json': JSON.stringify({ name: 'sandboxed', version: '1.0.0', kind: 'isolate', main: 'job.js' }), 'job.js': main });
}

describe('isolate jobs over HTTP', () => {
  let th: TestHost;
  let projectId: number;
  let heartbeat: number;

  function runsOf(jobId: number): Promise<ContractRun[]> {
    return listRuns(th.api, `jobId=${jobId}&limit=1000`);
  }

  async function trigger(entry: string, extra: Record<string, unknown>): Promise<ContractRun> {
    const job = await th.api.post('/api/v1/jobs', { projectId, name: entry, kind: 'isolate', entry, schedule: { type: 'MANUAL' }, ...extra });
    assert.equal(job.status, 201, job.text);
    const run = await th.api.post(`/api/v1/jobs/${job.body.id}/trigger`);
    assert.equal(run.status, 202, run.text);
    return finishedRun(th.api, run.body.runId, { timeoutMs: 30_000 });
  }

  before(async () => {
    th = await startHost();
    projectId = (await th.api.post('/api/v1/projects', { name: 'sandbox' })).body.id;
  });

  after(async () => {
    await th?.stop();
  });

  test('an isolate bundle is introspected at upload, and broken ones are refused with the cause', async () => {
    const res = await th.api.upload(projectId, await isolateBundle(MAIN));
    assert.equal(res.status, 201, res.text);
    const exports = JSON.stringify(res.body);
    for (const name of ['heartbeat', 'bomb', 'loop', 'Planner']) assert.match(exports, new RegExp(`"${name}"`));
    const cases: [string, string, RegExp][] = [
      ['throws', 'throw new Error("bad at load");', /bad at load/],
      ['loops', 'for (;;) {}', /did not finish loading|out of memory or time/],
      ['no jobs', 'exports.x = 1;', /no jobs/],
      ['syntax', 'exports.a = {', /compile|SyntaxError/],
      ['requires', 'require("fs");', /require is not defined/],
    ];
    for (const [what, main, why] of cases) {
      const bad = await th.api.upload(projectId, await isolateBundle(main));
      assert.equal(bad.status, 422, `${what}: ${bad.status} ${bad.text}`);
      assert.match(bad.body.error.message, why, what);
    }
  });

  test('an every-second isolate job runs with its cache and log and without Node APIs', async () => {
    const job = await th.api.post('/api/v1/jobs', { projectId, name: 'heartbeat', kind: 'isolate', entry: 'heartbeat', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
    assert.equal(job.status, 201, job.text);
    heartbeat = job.body.id;
    const done = await eventually('two heartbeat runs', async () => {
      const ok = (await runsOf(heartbeat)).filter((r) => r.status === 'SUCCEEDED');
      return ok.length >= 2 ? ok : undefined;
    });
    for (const run of done) checkRunContract(run, { resources: true });
    const results = done.map((r) => JSON.parse(r.result ?? '{}'));
    assert.ok(results.some((r) => r.n >= 2), JSON.stringify(results));
    assert.deepEqual(new Set(results.map((r) => `${r.typeofProcess}/${r.typeofRequire}`)), new Set(['undefined/undefined']));
    const log = await th.api.get(`/api/v1/runs/${done[0]!.runId}/log`);
    assert.match(log.text, /beat \d+/);
  });

  test('a memory bomb and an endless loop fail their own runs while the heartbeat and /healthz go on', async () => {
    const before = (await runsOf(heartbeat)).filter((r) => r.status === 'SUCCEEDED').length;
    const [bomb, loop] = await Promise.all([trigger('bomb', { memoryLimitMb: 16 }), trigger('loop', { timeoutMs: 1_000 })]);
    assert.equal(bomb.status, 'FAILED', JSON.stringify(bomb));
    assert.match(bomb.error!.message, /memory limit of 16 MB/);
    assert.ok(['FAILED', 'TIMED_OUT'].includes(loop.status), JSON.stringify(loop));
    assert.equal((await fetch(`${th.url}/healthz`)).status, 200);
    await eventually('two more heartbeats', async () => {
      const ok = (await runsOf(heartbeat)).filter((r) => r.status === 'SUCCEEDED').length;
      return ok >= before + 2 ? true : undefined;
    });
    // QUEUED: the row of the next fire, written ahead of its fire time.
    assert.equal((await runsOf(heartbeat)).filter((r) => !['SUCCEEDED', 'RUNNING', 'QUEUED'].includes(r.status)).length, 0);
    assert.equal((await fetch(`${th.url}/healthz`)).status, 200);
  });
});
