/**
 * Every field has a type and a bound, checked at the door: each oversize or loosely typed value goes through the REST
 * API, is answered with a 4xx that names its field, and leaves nothing changed behind (no project, job, bundle
 * version or run). Messages a client reads never show where the host keeps its files. On SQLite and MySQL/MariaDB.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { startHost, type Reply, type TestHost } from '../helpers/host.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { threadBundle, zip } from '../helpers/zip.js';

const JOBS = `
export const ok = { execute(ctx) { return 'params ' + JSON.stringify(ctx.params).length; } };
export const importsMissing = { async execute() { await import('./lib/missing.js'); } };
`;

/** What the host holds, read over the API: compared before and after each refused request. */
async function snapshot(th: TestHost, projectId: number): Promise<string> {
  const [projects, jobs, bundles, runs] = await Promise.all([
    th.api.get('/api/v1/projects'),
    th.api.get('/api/v1/jobs'),
    th.api.get(`/api/v1/projects/${projectId}/bundles`),
    listRuns(th.api, 'limit=1000'),
  ]);
  // Runs are compared by id: their statuses, and so each job's runCounts and lastRun, move on as runs end.
  const jobRows = (jobs.body.items as Record<string, unknown>[]).map(({ runCounts: _counts, lastRun: _last, ...job }) => job);
  return JSON.stringify({ projects: projects.body, jobs: jobRows, bundles: bundles.body, runs: runs.map((r) => r.runId) });
}

function assertRefused(res: Reply, status: number, field: string): void {
  assert.equal(res.status, status, res.text.slice(0, 300));
  const error = res.body?.error as { message: string; details?: { field?: string } } | undefined;
  assert.ok(error, res.text.slice(0, 300));
  const named = error.details?.field === field || error.message.includes(field);
  assert.ok(named, `the answer names ${field}: ${res.text.slice(0, 300)}`);
  // A refusal does not echo a huge value back.
  assert.ok(res.text.length < 2_000, `answer of ${res.text.length} bytes`);
}

for (const database of testDatabases()) {
  describe(`input bounds on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let projectId: number;
    let jobId: number;
    let execJobBody: Record<string, unknown>;

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db, options: { seedSamples: false } });
      const project = await th.api.post('/api/v1/projects', { name: 'bounds' });
      assert.equal(project.status, 201, project.text);
      projectId = project.body.id;
      const upload = await th.api.upload(projectId, await threadBundle(JOBS, { 'config/app.properties': 'greeting=hi\n' }));
      assert.equal(upload.status, 201, upload.text);
      const job = await th.api.post('/api/v1/jobs', { projectId, name: 'ok', kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } });
      assert.equal(job.status, 201, job.text);
      jobId = job.body.id;
      execJobBody = { projectId, name: 'argv', kind: 'exec', schedule: { type: 'MANUAL' } };
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    /** Sends a bad request and checks that it is refused naming `field` and that the host holds what it held. */
    async function refused(send: () => Promise<Reply>, status: number, field: string): Promise<void> {
      const before = await snapshot(th, projectId);
      assertRefused(await send(), status, field);
      assert.equal(await snapshot(th, projectId), before, `nothing changed after a request refused for ${field}`);
    }

    test('a bundle manifest with an oversize field is refused naming it, and GET bundles stays small', async () => {
      const manifest = { name: 'big', version: '1.0.0', main: 'index.js', kind: 'thread' };
      const bundle = (fields: Record<string, unknown>): Promise<Buffer> =>
        zip({ 'jobcenter.json': JSON.stringify({ ...manifest, ...fields }), 'package.json': '{"type":"module"}', 'index.js': JOBS });
      await refused(async () => th.api.upload(projectId, await bundle({ description: 'd'.repeat(10_000) })), 422, 'description');
      await refused(async () => th.api.upload(projectId, await bundle({ version: 'v'.repeat(10_000) })), 422, 'version');
      await refused(async () => th.api.upload(projectId, await bundle({ main: `${'m/'.repeat(5_000)}index.js` })), 422, 'main');
      await refused(async () => th.api.upload(projectId, await bundle({ extra: 'x'.repeat(100_000) })), 422, 'jobcenter.json');
      // The 49 KB zip of the report: 50 MB of description, compressed. The file is refused before it is parsed.
      await refused(async () => th.api.upload(projectId, await bundle({ description: 'd'.repeat(50_000_000) })), 422, 'jobcenter.json');

      const accepted = await th.api.upload(projectId, await bundle({ description: 'd'.repeat(2_000) }));
      assert.equal(accepted.status, 201, accepted.text.slice(0, 300));
      const list = await th.api.get(`/api/v1/projects/${projectId}/bundles`);
      assert.equal(list.status, 200);
      for (const shown of list.body as Record<string, unknown>[]) {
        assert.ok(JSON.stringify(shown).length < 5_000, `a bundle is shown in ${JSON.stringify(shown).length} bytes`);
        assert.equal(shown.dir, undefined, 'the folder a bundle is extracted to is not shown');
      }
      assert.ok(!list.text.includes(th.dataDir), 'GET bundles does not show the data folder');
    });

    test('trigger params are capped as job params are, in bytes', async () => {
      await refused(() => th.api.post(`/api/v1/jobs/${jobId}/trigger`, { params: 'x'.repeat(64_001) }), 400, 'params');
      // 30,000 characters of three bytes each: 90 KB, more than one environment variable of an exec run takes.
      await refused(() => th.api.post(`/api/v1/jobs/${jobId}/trigger`, { params: '€'.repeat(30_000) }), 400, 'params');
      await refused(() => th.api.post('/api/v1/jobs', { ...execJobBody, entry: ['true'], params: '€'.repeat(30_000) }), 400, 'params');
      const fits = await th.api.post(`/api/v1/jobs/${jobId}/trigger`, { params: 'x'.repeat(60_000) });
      assert.equal(fits.status, 202, fits.text.slice(0, 300));
      const run = await finishedRun(th.api, fits.body.runId);
      assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
      assert.equal(run.result, 'params 60002');
    });

    test('an exec argv or config the kernel would refuse at spawn is refused at creation', async () => {
      await refused(() => th.api.post('/api/v1/jobs', { ...execJobBody, entry: ['echo', 'x'.repeat(1_000_000)] }), 400, 'entry[1]');
      await refused(() => th.api.post('/api/v1/jobs', { ...execJobBody, entry: ['echo', ...Array(3).fill('x'.repeat(100_000))] }), 400, 'entry');
      await refused(() => th.api.post('/api/v1/jobs', { ...execJobBody, entry: Array(1_001).fill('x') }), 400, 'entry');
      await refused(() => th.api.post('/api/v1/jobs', { ...execJobBody, entry: ['echo', 'a\u0000b'] }), 400, 'entry[1]');
      await refused(() => th.api.post('/api/v1/jobs', { ...execJobBody, entry: ['true'], config: { big: 'x'.repeat(200_000) } }), 400, 'config');
      await refused(() => th.api.post('/api/v1/jobs', { ...execJobBody, entry: ['true'], config: { nul: 'a\u0000b' } }), 400, 'config.nul');
      await refused(() => th.api.post('/api/v1/jobs', { ...execJobBody, entry: ['true'], config: { ['k'.repeat(201)]: 'v' } }), 400, 'config');
      const patched = await th.api.patch(`/api/v1/jobs/${jobId}`, { config: { big: 'x'.repeat(200_000) } });
      assertRefused(patched, 400, 'config');

      // Just under the bound for one argument: accepted, and it runs (the bound is what the kernel takes).
      const arg = 'y'.repeat(120_000);
      const created = await th.api.post('/api/v1/jobs', { ...execJobBody, entry: ['sh', '-c', 'echo ${#1}', 'sh', arg] });
      assert.equal(created.status, 201, created.text.slice(0, 300));
      const trigger = await th.api.post(`/api/v1/jobs/${created.body.id}/trigger`, {});
      assert.equal(trigger.status, 202, trigger.text);
      const run = await finishedRun(th.api, trigger.body.runId);
      assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
      assert.match((await th.api.get(`/api/v1/runs/${run.runId}/log`)).text, /120000/);
      assert.equal((await th.api.delete(`/api/v1/jobs/${created.body.id}`)).status, 204);
    });

    test('loosely typed values and unknown fields are refused by name', async () => {
      const job = { projectId, name: 'loose', kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } };
      await refused(() => th.api.post('/api/v1/jobs', { ...job, start: 'yes' }), 400, 'start');
      await refused(() => th.api.post('/api/v1/jobs', { ...job, start: 1 }), 400, 'start');
      await refused(() => th.api.patch(`/api/v1/jobs/${jobId}`, { start: true }), 400, 'start');
      const proto = `{"projectId":${projectId},"name":"proto","kind":"thread","entry":"ok","schedule":{"type":"MANUAL"},"config":{"__proto__":"x"}}`;
      await refused(() => th.api.request('POST', '/api/v1/jobs', proto), 400, 'config.__proto__');
      await refused(() => th.api.request('PATCH', `/api/v1/jobs/${jobId}`, '{"config":{"__proto__":{"a":"b"}}}'), 400, 'config.__proto__');
      await refused(() => th.api.post('/api/v1/projects', { name: 'sneaky', owner: 'someone' }), 400, 'owner');
      await refused(() => th.api.post('/api/v1/projects', { name: 'sneaky', trusted: 'yes' }), 400, 'trusted');
      await refused(() => th.api.patch(`/api/v1/projects/${projectId}`, { trusted: 1 }), 400, 'trusted');
      await refused(() => th.api.get('/api/v1/runs?limit=-1'), 400, 'limit');
      await refused(() => th.api.get('/api/v1/events?limit=-1'), 400, 'limit');
      await refused(() => th.api.post('/api/v1/jobs', { ...job, schedule: { type: 'CRON', cron: '* '.repeat(5_000) } }), 400, 'schedule.cron');
      await refused(() => th.api.post('/api/v1/jobs', { ...job, schedule: { type: 'CRON', cron: '0 * * * * *', timezone: 'Z'.repeat(5_000) } }), 400, 'schedule.timezone');
      await refused(() => th.api.post('/api/v1/jobs', { ...job, grants: { fetch: Array(101).fill('example.com') } }), 400, 'grants.fetch');
      // A boolean `trusted` is a known field of a project body.
      const trusted = await th.api.post('/api/v1/projects', { name: 'with-trusted', trusted: false });
      assert.equal(trusted.status, 201, trusted.text);
      assert.equal((await th.api.delete(`/api/v1/projects/${trusted.body.id}`)).status, 204);
    });

    test('messages of refused uploads and failed runs show paths relative to the bundle, never the data folder', async () => {
      const esmInCommonJs = await threadBundle('exports.ok = { execute() {} };');
      const upload = await th.api.upload(projectId, esmInCommonJs);
      assert.equal(upload.status, 422, upload.text);
      assert.ok(!upload.text.includes(th.dataDir), `the refusal shows the data folder: ${upload.text}`);
      assert.match(upload.text, /'package\.json'/, 'the file is named relative to the bundle');

      const runOf = async (name: string, body: Record<string, unknown>): Promise<string> => {
        const created = await th.api.post('/api/v1/jobs', { projectId, name, kind: 'thread', schedule: { type: 'MANUAL' }, ...body });
        assert.equal(created.status, 201, created.text);
        const trigger = await th.api.post(`/api/v1/jobs/${created.body.id}/trigger`, {});
        const run = await finishedRun(th.api, trigger.body.runId);
        assert.equal(run.status, 'FAILED');
        const log = (await th.api.get(`/api/v1/runs/${run.runId}/log`)).text;
        const shown = `${JSON.stringify(run.error)}\n${log}`;
        assert.ok(!shown.includes(th.dataDir), `run ${name} shows the data folder: ${shown}`);
        return shown;
      };
      const noConfigFile = await th.api.post('/api/v1/jobs', { projectId, name: 'no-config-file', kind: 'thread', entry: 'ok', configFile: 'missing.properties', schedule: { type: 'MANUAL' } });
      assert.equal(noConfigFile.status, 422, noConfigFile.text);
      assert.ok(!noConfigFile.text.includes(th.dataDir), `the refusal shows the data folder: ${noConfigFile.text}`);
      assert.match(noConfigFile.body.error.message, /configFile missing\.properties is not in the project's bundle/);
      assert.match(await runOf('missing-import', { entry: 'importsMissing' }), /lib\/missing\.js/);
    });
  });
}
