/**
 * Overload: scheduled fires beyond maxRunsInFlight are recorded as SKIPPED (code HOST_OVERLOADED) instead of piling
 * up in memory, and the host keeps running the runs it holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, startHost, type TestHost } from '../helpers/host.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `export const slow = { execute() { return new Promise((resolve) => setTimeout(() => resolve('done'), 4500)); } };`;

interface Run {
  status: string;
  error: { code?: string; message: string } | null;
}

describe('overload', () => {
  let th: TestHost;

  before(async () => {
    th = await startHost({ options: { maxRunsInFlight: 3 } });
  });

  after(async () => {
    await th?.stop();
  });

  test('fires over maxRunsInFlight are SKIPPED with HOST_OVERLOADED; the runs held go on', async () => {
    const projectId = (await th.api.post('/api/v1/projects', { name: 'overload' })).body.id;
    assert.equal((await th.api.upload(projectId, await threadBundle(CODE))).status, 201);
    const made = await th.api.post('/api/v1/jobs', { projectId, name: 'slow', kind: 'thread', entry: 'slow', schedule: { type: 'INTERVAL', everyMs: 1000 }, start: true });
    assert.equal(made.status, 201, made.text);
    const runs = await eventually('an overloaded fire and a finished run', async () => {
      const items = (await th.api.get(`/api/v1/runs?jobId=${made.body.id}`)).body.items as Run[];
      const overloaded = items.some((r) => r.status === 'SKIPPED' && r.error?.code === 'HOST_OVERLOADED');
      return overloaded && items.some((r) => r.status === 'SUCCEEDED') ? items : undefined;
    }, 15_000);
    const skipped = runs.find((r) => r.error?.code === 'HOST_OVERLOADED')!;
    assert.match(skipped.error!.message, /maxRunsInFlight/);
    assert.ok(th.host.parts.dispatcher.activeCount <= 3, `holds ${th.host.parts.dispatcher.activeCount} runs`);
    await th.api.post(`/api/v1/jobs/${made.body.id}/stop`);
  });
});
