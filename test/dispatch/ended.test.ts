/**
 * dispatcher.ended(runId): resolves once the host no longer holds the run, without polling — for the run that
 * finishes, the run that is killed, and a run the host does not know.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.js';
import { readRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `
export const nap = { execute() { return new Promise((resolve) => setTimeout(() => resolve('rested'), 150)); } };
export const hang = { execute(ctx) { return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve())); } };
`;

describe('dispatcher.ended', () => {
  let th: TestHost;
  let projectId: number;

  async function trigger(entry: string): Promise<string> {
    const made = await th.api.post('/api/v1/jobs', { projectId, name: `${entry}-${Math.random().toString(36).slice(2, 7)}`, kind: 'thread', entry, schedule: { type: 'MANUAL' } });
    assert.equal(made.status, 201, made.text);
    const fired = await th.api.post(`/api/v1/jobs/${made.body.id}/trigger`);
    assert.equal(fired.status, 202, fired.text);
    return fired.body.runId as string;
  }

  before(async () => {
    th = await startHost();
    projectId = (await th.api.post('/api/v1/projects', { name: 'ended' })).body.id;
    assert.equal((await th.api.upload(projectId, await threadBundle(CODE))).status, 201);
  });

  after(async () => {
    await th?.stop();
  });

  test('resolves when the run has finished, with its final row queued', async () => {
    const { dispatcher, store } = th.host.parts;
    const runId = await trigger('nap');
    assert.equal(dispatcher.isActive(runId), true);
    await dispatcher.ended(runId);
    assert.equal(dispatcher.isActive(runId), false);
    await store.runWriter.flush();
    const run = await readRun(th.api, runId, { resources: true });
    assert.equal(run.status, 'SUCCEEDED');
    assert.equal(run.result, 'rested');
  });

  test('resolves for a killed run, and at once for a run the host does not hold', async () => {
    const { dispatcher } = th.host.parts;
    const runId = await trigger('hang');
    const ended = dispatcher.ended(runId);
    let done = false;
    void ended.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(done, false, 'still running');
    assert.equal(dispatcher.kill(runId), true);
    await ended;
    await dispatcher.ended('00000000-0000-4000-8000-000000000000');
  });
});
