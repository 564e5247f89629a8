/**
 * A module job's profile on the host gives the context `jobcenter-sdk run --profile` gives locally: the module-demo
 * sample's repository bean is seeded from config/application.properties, which application-dev.properties overlays.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, SAMPLES, startHost, type TestHost } from '../helpers/host.js';
import { finishedRun } from '../helpers/runs.js';
import { cli } from '../sdk/cli-helpers.js';

const SAMPLE_DIR = path.join(REPO, 'samples', 'module-demo');

describe('module jobs with a profile', () => {
  let th: TestHost;
  let projectId: number;
  let jobs = 0;

  async function countWith(profile: string | undefined): Promise<string | null> {
    const res = await th.api.post('/api/v1/jobs', {
      projectId, name: `count-${profile ?? 'default'}-${++jobs}`, kind: 'module', entry: 'countPeople', schedule: { type: 'MANUAL' }, ...(profile ? { profile } : {}),
    });
    assert.equal(res.status, 201, res.text);
    const trig = await th.api.post(`/api/v1/jobs/${res.body.id}/trigger`);
    assert.equal(trig.status, 202, trig.text);
    const run = await finishedRun(th.api, trig.body.runId, { timeoutMs: 30_000 });
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
    return run.result;
  }

  async function countLocally(profile: string | undefined): Promise<string> {
    const done = await cli(['run', 'countPeople', ...(profile ? ['--profile', profile] : [])], SAMPLE_DIR);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    return /^result: (.*)$/m.exec(done.stdout)![1];
  }

  before(async () => {
    th = await startHost();
    projectId = (await th.api.post('/api/v1/projects', { name: 'module-profiles', trusted: true })).body.id;
    const upload = await th.api.upload(projectId, await readFile(path.join(SAMPLES, 'module-demo.zip')));
    assert.equal(upload.status, 201, upload.text);
  });

  after(async () => {
    await th?.stop();
  });

  test('a host job with profile dev sees the dev values, as jobcenter-sdk run --profile dev does', async () => {
    assert.equal(await countWith('dev'), '2 people');
    assert.equal(await countLocally('dev'), '2 people');
  });

  test('a job without a profile, beside it, keeps the default values in a context of its own', async () => {
    assert.equal(await countWith(undefined), '3 people');
    assert.equal(await countLocally(undefined), '3 people');
    assert.equal(await countWith('dev'), '2 people');
  });

  test('a profile the module has no file for leaves the module config as it is, locally and on the host', async () => {
    assert.equal(await countWith('prod'), '3 people');
    assert.equal(await countLocally('prod'), '3 people');
  });
});
