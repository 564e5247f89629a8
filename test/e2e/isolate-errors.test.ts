/**
 * What an isolate job's author reads when their code fails, over HTTP on a real host: a Node global says the job runs
 * in a sandbox, and stacks name the bundle's file at its real line and column, without the host's prelude frames.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.js';
import { finishedRun } from '../helpers/runs.js';
import { zip } from '../helpers/zip.js';

const MAIN = `"use strict";
exports.first = { execute() { throw new Error("on the first line"); } };
exports.env = {
  execute(ctx) {
    ctx.log.info('reading the environment');
    return process.env.HOME;
  },
};
exports.buffer = { execute() { return Buffer.from('x').length; } };
`;

function isolateBundle(main: string): Promise<Buffer> {
  return zip({ 'jobcenter.json': JSON.stringify({ name: 'author-errors', version: '1.0.0', kind: 'isolate', main: 'job.js' }), 'job.js': main });
}

/** Where `text` starts in MAIN, 1-based, as a stack names it. */
function positionOf(text: string): string {
  const before = MAIN.slice(0, MAIN.indexOf(text)).split('\n');
  return `job.js:${before.length}:${before.at(-1)!.length + 1}`;
}

describe('isolate job errors', () => {
  let th: TestHost;
  let projectId: number;

  async function failedRun(entry: string): Promise<{ name?: string; message: string; stack?: string }> {
    const job = await th.api.post('/api/v1/jobs', { projectId, name: entry, kind: 'isolate', entry, schedule: { type: 'MANUAL' } });
    assert.equal(job.status, 201, job.text);
    const trig = await th.api.post(`/api/v1/jobs/${job.body.id}/trigger`);
    assert.equal(trig.status, 202, trig.text);
    const run = await finishedRun(th.api, trig.body.runId, { timeoutMs: 30_000 });
    assert.equal(run.status, 'FAILED');
    return run.error!;
  }

  before(async () => {
    th = await startHost();
    projectId = (await th.api.post('/api/v1/projects', { name: 'author-errors' })).body.id;
    const upload = await th.api.upload(projectId, await isolateBundle(MAIN));
    assert.equal(upload.status, 201, upload.text);
  });

  after(async () => {
    await th?.stop();
  });

  test('a job that touches process is told it runs in a sandbox, at the line of the bundle that did', async () => {
    const error = await failedRun('env');
    assert.equal(error.name, 'ReferenceError');
    assert.match(error.message, /^process is not defined: isolate jobs run in a sandbox without Node APIs \(process, require, Buffer, fs…\); use ctx\.params, ctx\.config, ctx\.log and ctx\.cache/);
    const frames = error.stack!.split('\n');
    assert.equal(frames[0], `ReferenceError: ${error.message}`);
    assert.deepEqual(frames.slice(1).map((f) => f.trim()), [`at Object.execute (${positionOf('return process.env')})`]);
    assert.match((await failedRun('buffer')).message, /^Buffer is not defined: isolate jobs run in a sandbox/);
  });

  test('a stack names the bundle file at its real line and column, also on line 1, and never the prelude', async () => {
    const error = await failedRun('first');
    assert.equal(error.message, 'on the first line');
    assert.deepEqual(error.stack!.split('\n').slice(1).map((f) => f.trim()), [`at Object.execute (${positionOf('new Error')})`]);
  });

  test('a main that calls require at load is refused at upload, saying why', async () => {
    const res = await th.api.upload(projectId, await isolateBundle('const fs = require("fs");\nexports.a = { execute() {} };\n'));
    assert.equal(res.status, 422, res.text);
    assert.match(res.body.error.message, /require is not defined: isolate jobs run in a sandbox without Node APIs/);
  });
});
