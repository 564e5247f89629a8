/**
 * The start/end window of a schedule, over HTTP against a real host on SQLite and MySQL/MariaDB: every fire time from
 * startAt to endAt runs (the last one too, though its row is written ahead of the end), the job is stopped only after
 * its last fire is dispatched, and a job started before its startAt is PENDING until then, a MANUAL one included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { eventually, type TestHost } from '../helpers/host.js';
import { settledRuns, startProjectHost, type ProjectHost } from '../helpers/project-host.js';
import type { ContractRun } from '../helpers/run-contract.js';
import { listRuns } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `export const quick = { execute(ctx) { return 'at ' + ctx.scheduledAt.toISOString(); } };`;

interface JobEvent {
  action: string;
  actor: string;
  details: Record<string, unknown> | null;
  at: string;
}

/** A whole second at least `leadMs` from now: fire times on it are easy to read in a failure. */
function secondAfter(leadMs: number): number {
  return Math.ceil((Date.now() + leadMs) / 1000) * 1000;
}

for (const database of testDatabases()) {
  describe(`schedule windows on ${database.name}`, { skip: database.skip }, () => {
    let suite: ProjectHost;
    let th: TestHost;
    let projectId: number;

    async function createJob(body: Record<string, unknown>): Promise<number> {
      const res = await th.api.post('/api/v1/jobs', { projectId, kind: 'thread', entry: 'quick', ...body });
      assert.equal(res.status, 201, res.text);
      return res.body.id;
    }

    async function stateOf(jobId: number): Promise<string> {
      const res = await th.api.get(`/api/v1/jobs/${jobId}`);
      assert.equal(res.status, 200, res.text);
      return res.body.state;
    }

    const eventsOf = async (jobId: number): Promise<JobEvent[]> => (await th.api.get(`/api/v1/events?jobId=${jobId}`)).body;

    /** The job's runs once it is STOPPED and none of them is QUEUED or RUNNING. */
    const runsWhenStopped = (jobId: number): Promise<ContractRun[]> => settledRuns(th, jobId, async () => (await stateOf(jobId)) === 'STOPPED');

    before(async () => {
      suite = await startProjectHost(database, 'windows', await threadBundle(CODE));
      ({ th, projectId } = suite);
    });

    after(async () => {
      await suite?.stop();
    });

    test('an interval job runs every fire time from startAt to endAt, the last one 5 ms before endAt too, and stops after it', async () => {
      const startAt = secondAfter(2_500);
      const endAt = startAt + 3_005;
      const schedule = { type: 'INTERVAL', everyMs: 1_000, startAt: new Date(startAt).toISOString(), endAt: new Date(endAt).toISOString() };
      const id = await createJob({ name: 'window-interval', schedule });
      const started = await th.api.post(`/api/v1/jobs/${id}/start`);
      assert.equal(started.status, 200, started.text);
      assert.equal(started.body.state, 'PENDING', 'started before its startAt, the job waits for it');

      const runs = await runsWhenStopped(id);
      const expected = [0, 1_000, 2_000, 3_000].map((ms) => new Date(startAt + ms).toISOString());
      assert.deepEqual(runs.map((r) => r.scheduledAt), expected, 'every fire time in [startAt, endAt] ran, once');
      for (const run of runs) assert.equal(run.status, 'SUCCEEDED', `${run.scheduledAt}: ${run.error?.message}`);

      const stop = (await eventsOf(id)).find((e) => e.action === 'stopped');
      assert.ok(stop, 'the end of the schedule is an event');
      assert.equal(stop.actor, 'system');
      assert.match(String(stop.details?.reason), /reached endAt/);
      const last = runs[runs.length - 1]!;
      assert.ok(Date.parse(stop.at) >= Date.parse(last.startedAt!), `stopped at ${stop.at}, after its last run started (${last.startedAt})`);
    });

    test('a cron job started before its startAt is PENDING, fires first at startAt and is ACTIVE from then', async () => {
      const startAt = secondAfter(2_000);
      const id = await createJob({ name: 'window-cron', schedule: { type: 'CRON', cron: '* * * * * *', startAt: new Date(startAt).toISOString() } });
      const started = await th.api.post(`/api/v1/jobs/${id}/start`);
      assert.equal(started.status, 200, started.text);
      assert.equal(started.body.state, 'PENDING');
      assert.equal(started.body.nextFireAt, new Date(startAt).toISOString());
      const first = await eventually('the first run', async () => {
        const runs = await listRuns(th.api, `jobId=${id}`);
        return runs.length > 0 ? runs[runs.length - 1] : undefined;
      });
      assert.equal(first.scheduledAt, new Date(startAt).toISOString(), 'nothing fired before startAt');
      await eventually('the job to be ACTIVE', async () => ((await stateOf(id)) === 'ACTIVE' ? true : undefined));
      assert.equal((await th.api.post(`/api/v1/jobs/${id}/stop`)).status, 200);
      const runs = await runsWhenStopped(id);
      assert.ok(runs.every((r) => Date.parse(r.scheduledAt) >= startAt));
    });

    test('a manual job started before its startAt is PENDING and runs once, at startAt', async () => {
      const startAt = secondAfter(2_500);
      const id = await createJob({ name: 'window-manual', schedule: { type: 'MANUAL', startAt: new Date(startAt).toISOString() } });
      const started = await th.api.post(`/api/v1/jobs/${id}/start`);
      assert.equal(started.status, 200, started.text);
      assert.equal(started.body.runId, undefined, 'nothing runs at the start');
      assert.equal(started.body.state, 'PENDING');
      assert.equal(started.body.nextFireAt, new Date(startAt).toISOString());
      // At most the row of its fire at startAt, written ahead (QUEUED) on a slow machine.
      const early = await listRuns(th.api, `jobId=${id}`);
      assert.ok(early.every((r) => r.status === 'QUEUED' && Date.parse(r.scheduledAt) === startAt), JSON.stringify(early));

      const runs = await runsWhenStopped(id);
      assert.equal(runs.length, 1, runs.map((r) => r.scheduledAt).join(', '));
      const [run] = runs;
      assert.equal(run!.scheduledAt, new Date(startAt).toISOString());
      assert.equal(run!.trigger, 'SCHEDULE');
      assert.equal(run!.status, 'SUCCEEDED', run!.error?.message);
      assert.ok(Date.parse(run!.startedAt!) >= startAt, `it started at ${run!.startedAt}, not before startAt`);
      const stop = (await eventsOf(id)).find((e) => e.action === 'stopped');
      assert.match(String(stop?.details?.reason), /once at its startAt/);

      // Started again once startAt has passed, it runs at once, as a manual job does.
      const again = await th.api.post(`/api/v1/jobs/${id}/start`);
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.state, 'STOPPED');
      assert.match(again.body.runId, /^[0-9a-f-]{36}$/);
    });
  });
}
