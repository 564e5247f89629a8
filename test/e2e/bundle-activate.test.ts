/**
 * Making an older bundle version current again (POST /projects/:id/bundles/:bundleId/activate), over REST on SQLite
 * and MySQL/MariaDB: the newer version stays, the list says which is current, triggered runs use the activated
 * version's code (thread and isolate kinds), and an event records who did it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { Api, startHost, type TestHost } from '../helpers/host.js';
import { finishedRun } from '../helpers/runs.js';
import { threadBundle, zip } from '../helpers/zip.js';

const versioned = (v: number): string => `export const version = { execute() { return 'v${v}'; } };\n`;

/** An isolate bundle is one script that assigns its jobs to `exports`. */
function isolateBundle(v: number): Promise<Buffer> {
  return zip({
    'jobcenter.json': JSON.stringify({ name: 'iso', version: `${v}.0.0`, main: 'job.js', kind: 'isolate' }),
    'job.js': `exports.version = { execute() { return 'v${v}'; } };\n`,
  });
}

interface BundleRow {
  id: number;
  version: number;
  current: boolean;
}

async function resultOf(api: Api, jobId: number): Promise<string | null> {
  const trigger = await api.post(`/api/v1/jobs/${jobId}/trigger`);
  assert.equal(trigger.status, 202, trigger.text);
  const run = await finishedRun(api, trigger.body.runId);
  assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
  return run.result;
}

for (const database of testDatabases()) {
  describe(`activating an older bundle version on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db, options: { seedSamples: false } });
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    /** A project with versions 1 and 2 of `kind` uploaded, and a manual job on its `version` export. */
    async function twoVersions(name: string, kind: 'thread' | 'isolate'): Promise<{ projectId: number; jobId: number; v1: number; v2: number }> {
      const projectId = (await th.api.post('/api/v1/projects', { name })).body.id as number;
      const bundle = kind === 'thread' ? (v: number) => threadBundle(versioned(v)) : isolateBundle;
      const up1 = await th.api.upload(projectId, await bundle(1));
      assert.equal(up1.status, 201, up1.text);
      const job = await th.api.post('/api/v1/jobs', { projectId, name: 'version', kind, entry: 'version', schedule: { type: 'MANUAL' } });
      assert.equal(job.status, 201, job.text);
      assert.equal(await resultOf(th.api, job.body.id), 'v1');
      const up2 = await th.api.upload(projectId, await bundle(2));
      assert.equal(up2.status, 201, up2.text);
      assert.equal(up2.body.current, true);
      assert.equal(await resultOf(th.api, job.body.id), 'v2');
      return { projectId, jobId: job.body.id, v1: up1.body.id, v2: up2.body.id };
    }

    async function bundles(projectId: number): Promise<Pick<BundleRow, 'version' | 'current'>[]> {
      const res = await th.api.get<BundleRow[]>(`/api/v1/projects/${projectId}/bundles`);
      assert.equal(res.status, 200, res.text);
      return res.body.map(({ version, current }) => ({ version, current }));
    }

    for (const kind of ['thread', 'isolate'] as const) {
      test(`${kind} jobs run the activated older version, the newer one stays, and going forward again works`, async () => {
        const { projectId, jobId, v1, v2 } = await twoVersions(`activate-${kind}`, kind);
        const back = await th.api.post(`/api/v1/projects/${projectId}/bundles/${v1}/activate`);
        assert.equal(back.status, 200, back.text);
        assert.equal(back.body.id, v1);
        assert.equal(back.body.version, 1);
        assert.equal(back.body.current, true);
        assert.equal(back.body.dir, undefined, 'where the host keeps files is not shown');
        assert.deepEqual(await bundles(projectId), [{ version: 2, current: false }, { version: 1, current: true }]);
        assert.equal((await th.api.get(`/api/v1/projects/${projectId}`)).body.currentBundleId, v1);
        for (let i = 0; i < 3; i++) assert.equal(await resultOf(th.api, jobId), 'v1', `run ${i + 1} after going back`);
        const forward = await th.api.post(`/api/v1/projects/${projectId}/bundles/${v2}/activate`);
        assert.equal(forward.status, 200, forward.text);
        assert.equal(await resultOf(th.api, jobId), 'v2');
        assert.deepEqual(await bundles(projectId), [{ version: 2, current: true }, { version: 1, current: false }]);
      });
    }

    test('an event records each change of version; activating the current version changes nothing', async () => {
      const { projectId, v1, v2 } = await twoVersions('activate-events', 'thread');
      assert.equal((await th.api.post(`/api/v1/projects/${projectId}/bundles/${v1}/activate`)).status, 200);
      const again = await th.api.post(`/api/v1/projects/${projectId}/bundles/${v1}/activate`);
      assert.equal(again.status, 200, again.text);
      const events = (await th.api.get(`/api/v1/events?projectId=${projectId}`)).body as { action: string; actor: string; jobId: number; details: unknown }[];
      const activated = events.filter((e) => e.action === 'activated');
      assert.deepEqual(activated.map(({ actor, jobId, details }) => ({ actor, jobId, details })), [
        { actor: 'admin', jobId: 0, details: { bundle: { before: { id: v2, version: 2 }, after: { id: v1, version: 1 } } } },
      ]);
    });

    test('a version of another project, a missing one, or a user who may not write the project is refused', async () => {
      const { projectId, v1 } = await twoVersions('activate-refused', 'thread');
      const other = (await th.api.post('/api/v1/projects', { name: 'activate-other' })).body.id as number;
      assert.equal((await th.api.post(`/api/v1/projects/${other}/bundles/${v1}/activate`)).status, 404);
      assert.equal((await th.api.post(`/api/v1/projects/${projectId}/bundles/999999/activate`)).status, 404);
      const bad = await th.api.post(`/api/v1/projects/${projectId}/bundles/first/activate`);
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.body.error.details.field, 'bundleId');
      assert.equal((await th.api.post('/api/v1/users', { username: 'watcher', password: 'a-good-password', role: 'viewer' })).status, 201);
      const viewer = await Api.login(th.url, 'watcher', 'a-good-password');
      assert.equal((await viewer.post(`/api/v1/projects/${projectId}/bundles/${v1}/activate`)).status, 403);
      assert.deepEqual((await bundles(projectId)).map((b) => b.current), [true, false], 'nothing changed');
    });
  });
}
