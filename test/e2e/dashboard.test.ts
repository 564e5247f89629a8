/**
 * The dashboard over HTTP against a real host on SQLite and MySQL/MariaDB: its run figures, kept as rollups while
 * runs end, agree exactly with the runs list; a developer sees only their own projects' figures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Dashboard } from '../../host/services/dashboard.js';
import { testDatabases } from '../helpers/db.js';
import { Api, eventually, startHost, type TestHost } from '../helpers/host.js';
import { listRuns } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `
export const quick = { execute() { return 'ok'; } };
export const slow = { execute() { return new Promise((resolve) => setTimeout(() => resolve('slow'), 300)); } };
export const fails = { execute() { throw new Error('it fails on purpose'); } };
`;


for (const database of testDatabases()) {
  describe(`the dashboard on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let projectId: number;
    const jobs: Record<string, number> = {};

    async function createJob(name: string, entry: string, schedule: Record<string, unknown> = { type: 'MANUAL' }, start = false): Promise<number> {
      const res = await th.api.post('/api/v1/jobs', { projectId, name, kind: 'thread', entry, concurrency: 'ALLOW', schedule, start });
      assert.equal(res.status, 201, res.text);
      return res.body.id;
    }

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db });
      const project = await th.api.post('/api/v1/projects', { name: 'dash' });
      assert.equal(project.status, 201, project.text);
      projectId = project.body.id;
      assert.equal((await th.api.upload(projectId, await threadBundle(CODE))).status, 201);
      jobs.quick = await createJob('quick', 'quick');
      jobs.slow = await createJob('slow', 'slow');
      jobs.fails = await createJob('fails', 'fails');
      jobs.ticker = await createJob('ticker', 'quick', { type: 'INTERVAL', everyMs: 1000 }, true);
      jobs.later = await createJob('later', 'quick', { type: 'INTERVAL', everyMs: 3_600_000 }, true);
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    test('the run counts, the failures and the series match the runs list exactly', async () => {
      for (const [name, times] of [['quick', 3], ['slow', 2], ['fails', 2]] as const) {
        for (let i = 0; i < times; i++) assert.equal((await th.api.post(`/api/v1/jobs/${jobs[name]}/trigger`, {})).status, 202);
      }
      // Some SCHEDULE runs of the ticker, then it stops, so every run has ended when the figures are compared.
      await eventually('the ticker to run a few times', async () => ((await listRuns(th.api, `jobId=${jobs.ticker}`)).length >= 3 ? true : undefined));
      assert.equal((await th.api.post(`/api/v1/jobs/${jobs.ticker}/stop`, {})).status, 200);
      const runs = await eventually('every run to end', async () => {
        await th.host.parts.store.runWriter.flush();
        const all = await listRuns(th.api, 'limit=1000');
        return all.every((r) => r.status !== 'QUEUED' && r.status !== 'RUNNING') ? all : undefined;
      });
      const byStatus: Record<string, number> = {};
      for (const run of runs) byStatus[run.status] = (byStatus[run.status] ?? 0) + 1;

      const dash = (await th.api.get<Dashboard>('/api/v1/dashboard')).body;
      assert.deepEqual(dash.runs24h.byStatus, byStatus);
      assert.equal(dash.runs24h.total, runs.length);
      assert.equal(dash.runs24h.successRate, (byStatus.SUCCEEDED ?? 0) / runs.length);
      assert.equal(dash.series.minutes.length, 60);
      assert.equal(dash.series.runs.reduce((a, b) => a + b, 0), runs.length);
      assert.ok(dash.series.fireLagP95Ms.some((lag) => lag !== null), 'the ticker\'s SCHEDULE runs give a fire lag');

      const failed = runs.filter((r) => r.status === 'FAILED');
      assert.deepEqual(dash.failures.map((f) => f.runId).sort(), failed.map((r) => r.runId).sort());
      assert.ok(dash.failures.every((f) => f.jobName === 'fails' && f.error?.includes('it fails on purpose')));

      // A job's first run may carry its worker's start: 'slow' is among them, not necessarily first.
      const slow = dash.slowest.find((s) => s.jobName === 'slow');
      assert.ok(slow && slow.runs === 2 && slow.avgMs >= 250 && slow.maxMs >= slow.avgMs, JSON.stringify(dash.slowest));
      assert.deepEqual(dash.slowest.map((s) => s.avgMs), dash.slowest.map((s) => s.avgMs).sort((a, b) => b - a));
      assert.equal(dash.slowest.reduce((n, s) => n + s.runs, 0), runs.filter((r) => r.startedAt && r.endedAt).length);
      assert.deepEqual(dash.jobsByState, { STOPPED: 4, ACTIVE: 1 });
      assert.deepEqual(dash.nextFires.map((f) => f.jobName), ['later']);
    });

    test('the runs list filters by trigger', async () => {
      const all = await listRuns(th.api, 'limit=1000');
      const scheduled = await listRuns(th.api, 'trigger=SCHEDULE&limit=1000');
      const manual = await listRuns(th.api, 'trigger=MANUAL,RETRY&limit=2');
      assert.deepEqual(scheduled.map((r) => r.runId), all.filter((r) => r.trigger === 'SCHEDULE').map((r) => r.runId));
      assert.ok(scheduled.length >= 2 && scheduled.every((r) => r.jobId === jobs.ticker));
      assert.deepEqual(manual.map((r) => r.runId), all.filter((r) => r.trigger === 'MANUAL').slice(0, 2).map((r) => r.runId));
      assert.equal((await th.api.get('/api/v1/runs?trigger=CRON')).status, 400);
    });

    test('a developer sees only the figures of their own projects', async () => {
      assert.equal((await th.api.post('/api/v1/users', { username: 'dev', password: 'dev-password-1', role: 'developer' })).status, 201);
      const dev = await Api.login(th.url, 'dev', 'dev-password-1');
      const dash = (await dev.get<Dashboard>('/api/v1/dashboard')).body;
      assert.deepEqual(dash.jobsByState, {});
      assert.deepEqual(dash.runs24h, { total: 0, byStatus: {}, successRate: null });
      assert.deepEqual([dash.slowest, dash.failures, dash.nextFires], [[], [], []]);
      assert.equal(dash.series.runs.reduce((a, b) => a + b, 0), 0);
    });
  });
}
