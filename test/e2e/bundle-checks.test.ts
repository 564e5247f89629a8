/**
 * What the host says about a bundle and the jobs on it, over HTTP on SQLite and MariaDB: an upload identical to a
 * version the project has is stored and named in a warning; a job's configFile and profile are checked against the
 * bundle's config files when it is created; a run whose config file went missing later says so without host paths.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { eventually, hostPerSuite, REPO } from '../helpers/host.js';
import { listRuns } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const MAIN = 'export const greet = { execute(ctx) { return ctx.config.greeting ?? "(none)"; } };\n';
const CONFIG = { 'config/app.properties': 'greeting=hello\n', 'config/app-dev.properties': 'greeting=hello dev\n' };

for (const database of testDatabases()) {
  describe(`bundle and config checks on ${database.name}`, { skip: database.skip }, () => {
    const host = hostPerSuite(database, { before, after });

    async function project(name: string): Promise<number> {
      const res = await host().api.post('/api/v1/projects', { name, trusted: true });
      assert.equal(res.status, 201, res.text);
      return res.body.id;
    }

    test('an upload identical to an existing version is stored as a new version, with a warning naming that version', async () => {
      const projectId = await project('same-again');
      const zipA = await threadBundle(MAIN, CONFIG);
      const first = await host().api.upload(projectId, zipA);
      assert.equal(first.status, 201, first.text);
      assert.deepEqual(first.body.warnings, []);
      const again = await host().api.upload(projectId, zipA);
      assert.equal(again.status, 201, again.text);
      assert.equal(again.body.version, 2);
      assert.equal(again.body.sha256, first.body.sha256);
      assert.equal(again.body.warnings.length, 1, again.text);
      assert.match(again.body.warnings[0], new RegExp(`identical \\(same sha256\\) to bundle version 1 \\(id ${first.body.id}\\), the current version until now: it was stored as version 2`));
      const other = await host().api.upload(projectId, await threadBundle(MAIN.replace('(none)', '(unset)'), CONFIG));
      assert.deepEqual(other.body.warnings, []);
      const rollback = await host().api.upload(projectId, zipA);
      assert.equal(rollback.status, 201, rollback.text);
      assert.match(rollback.body.warnings[0], new RegExp(`identical \\(same sha256\\) to bundle version 2 \\(id ${again.body.id}\\): it was stored as version 4`));
      const versions = (await host().api.get(`/api/v1/projects/${projectId}/bundles`)).body as { version: number }[];
      assert.deepEqual(versions.map((v) => v.version).sort(), [1, 2, 3, 4]);
    });

    test('a configFile or profile the bundle does not have is refused at creation with 422, listing its config files', async () => {
      const projectId = await project('config-check');
      assert.equal((await host().api.upload(projectId, await threadBundle(MAIN, CONFIG))).status, 201);
      const job = { projectId, name: 'greet', kind: 'thread', entry: 'greet', schedule: { type: 'MANUAL' } };
      const noFile = await host().api.post('/api/v1/jobs', { ...job, configFile: 'nope.properties' });
      assert.equal(noFile.status, 422, noFile.text);
      assert.equal(noFile.body.error.message, "configFile nope.properties is not in the project's bundle (version 1): its config/ folder has app-dev.properties, app.properties (configFile)");
      assert.deepEqual(noFile.body.error.details, { field: 'configFile', configFiles: ['app-dev.properties', 'app.properties'] });
      const noProfile = await host().api.post('/api/v1/jobs', { ...job, configFile: 'app.properties', profile: 'prod' });
      assert.equal(noProfile.status, 422, noProfile.text);
      assert.match(noProfile.body.error.message, /^profile prod needs config\/app-prod\.properties, which the project's bundle \(version 1\) does not have: .*\(profile\)$/);
      assert.deepEqual((await host().api.get(`/api/v1/jobs?projectId=${projectId}`)).body.items, [], 'a refused job is not created');
      const ok = await host().api.post('/api/v1/jobs', { ...job, configFile: 'app.properties', profile: 'dev' });
      assert.equal(ok.status, 201, ok.text);
    });

    test('a run whose config file left the bundle later fails naming the file in the bundle, and no host path', async () => {
      const projectId = await project('config-gone');
      assert.equal((await host().api.upload(projectId, await threadBundle(MAIN, CONFIG))).status, 201);
      const created = await host().api.post('/api/v1/jobs', {
        projectId, name: 'greet', kind: 'thread', entry: 'greet', configFile: 'app.properties', schedule: { type: 'INTERVAL', everyMs: 1000 }, start: true,
      });
      assert.equal(created.status, 201, created.text);
      const jobId = created.body.id;
      await eventually('a run with the config', async () => ((await listRuns(host().api, `jobId=${jobId}`)).some((r) => r.result === 'hello') ? true : undefined));
      assert.equal((await host().api.upload(projectId, await threadBundle(MAIN, { 'config/other.properties': 'x=1\n' }))).status, 201);
      const failed = await eventually('a run failing on the config file', async () => (await listRuns(host().api, `jobId=${jobId}&status=FAILED`))[0]);
      assert.equal((await host().api.post(`/api/v1/jobs/${jobId}/stop`)).status, 200);
      assert.equal(failed.error?.message, "configFile app.properties is not in the project's bundle (version 2): its config/ folder has other.properties");
      const log = (await host().api.get(`/api/v1/runs/${failed.runId}/log`)).text;
      const shown = `${JSON.stringify(failed.error)}\n${log}`;
      for (const hidden of [host().dataDir, REPO, 'file://']) assert.ok(!shown.includes(hidden), `the run shows ${hidden}: ${shown}`);
      const trigger = await host().api.post(`/api/v1/jobs/${jobId}/trigger`);
      assert.equal(trigger.status, 422, trigger.text);
      assert.match(trigger.body.error.message, /configFile app\.properties is not in the project's bundle \(version 2\)/);
    });
  });
}
