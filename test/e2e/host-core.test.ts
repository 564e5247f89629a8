/**
 * End to end over HTTP against a real host, on SQLite and on MySQL/MariaDB: upload, create, cron every second,
 * WAIT / SKIP / ALLOW, kill, timeout, and a new bundle version while jobs run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { eventually, startHost, type Api, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns, readRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';
import { HOSTILE_AND_GOOD, versioned } from '../fixtures/e2e/jobs.js';

/** The job's runs, newest first. */
function runsOf(api: Api, jobId: number, limit = 200): Promise<ContractRun[]> {
  return listRuns(api, `jobId=${jobId}&limit=${limit}`);
}

for (const database of testDatabases()) {
  describe(`the host on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let projectId: number;
    const jobIds: number[] = [];

    async function createJob(body: Record<string, unknown>): Promise<number> {
      const res = await th.api.post('/api/v1/jobs', { projectId, concurrency: 'ALLOW', ...body });
      assert.equal(res.status, 201, res.text);
      jobIds.push(res.body.id);
      return res.body.id;
    }

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db });
      const project = await th.api.post('/api/v1/projects', { name: 'core', description: 'e2e' });
      assert.equal(project.status, 201, project.text);
      projectId = project.body.id;
      const upload = await th.api.upload(projectId, await threadBundle(HOSTILE_AND_GOOD));
      assert.equal(upload.status, 201, upload.text);
      assert.deepEqual(
        upload.body.exports.map((e: { name: string }) => e.name).sort(),
        ['chatty', 'exiter', 'globals', 'hang', 'hog', 'ok', 'sleepy', 'spin', 'thrower', 'tick'],
      );
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    test('a cron job every second produces runs with distinct UUIDs, results and logs', async () => {
      const id = await createJob({ name: 'every-second', kind: 'thread', entry: 'ok', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
      const runs = await eventually('three finished runs', async () => {
        const all = (await runsOf(th.api, id)).filter((r) => r.status === 'SUCCEEDED');
        return all.length >= 3 ? all : undefined;
      });
      await th.api.post(`/api/v1/jobs/${id}/stop`);
      assert.equal(new Set(runs.map((r) => r.runId)).size, runs.length);
      assert.equal(new Set(runs.map((r) => r.scheduledAt)).size, runs.length, 'one run per fire time');
      for (const run of runs) {
        checkRunContract(run, { resources: true });
        assert.equal(run.trigger, 'SCHEDULE');
        assert.equal(run.result, `ok:${run.runId}`);
        assert.equal(new Date(run.scheduledAt).getMilliseconds(), 0, 'cron fires on the second');
        const log = await th.api.get(`/api/v1/runs/${run.runId}/log`);
        assert.equal(log.status, 200);
        assert.match(log.text, new RegExp(`ok run ${run.runId}`));
      }
    });

    test('the cache keeps values across runs of a job', async () => {
      const id = await createJob({ name: 'counter', kind: 'thread', entry: 'tick', schedule: { type: 'MANUAL' } });
      for (let i = 1; i <= 3; i++) {
        const trig = await th.api.post(`/api/v1/jobs/${id}/trigger`);
        assert.equal(trig.status, 202, trig.text);
        assert.equal((await finishedRun(th.api, trig.body.runId, { resources: true })).result, `tick ${i}`);
      }
    });

    test('WAIT queues runs behind the running one and starts them in order', async () => {
      const id = await createJob({ name: 'waiter', kind: 'thread', entry: 'sleepy', concurrency: 'WAIT', schedule: { type: 'MANUAL' } });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const trig = await th.api.post(`/api/v1/jobs/${id}/trigger`, { params: { ms: 300, i } });
        assert.equal(trig.status, 202, trig.text);
        ids.push(trig.body.runId);
      }
      const runs = await Promise.all(ids.map((r) => finishedRun(th.api, r, { resources: true })));
      runs.forEach((run, i) => assert.equal(run.result, `slept ${JSON.stringify({ ms: 300, i })}`));
      for (let i = 1; i < runs.length; i++) {
        assert.ok(new Date(runs[i]!.startedAt!) >= new Date(runs[i - 1]!.endedAt!), `run ${i} started after run ${i - 1} ended`);
      }
    });

    test('SKIP records a SKIPPED run while the job is running, ALLOW overlaps', async () => {
      const skip = await createJob({ name: 'skipper', kind: 'thread', entry: 'sleepy', concurrency: 'SKIP', schedule: { type: 'MANUAL' } });
      const first = await th.api.post(`/api/v1/jobs/${skip}/trigger`, { params: { ms: 800 } });
      const second = await th.api.post(`/api/v1/jobs/${skip}/trigger`, { params: { ms: 800 } });
      assert.equal((await finishedRun(th.api, second.body.runId)).status, 'SKIPPED');
      assert.equal((await finishedRun(th.api, first.body.runId, { resources: true })).status, 'SUCCEEDED');

      const allow = await createJob({ name: 'overlapper', kind: 'thread', entry: 'sleepy', schedule: { type: 'MANUAL' } });
      const a = await th.api.post(`/api/v1/jobs/${allow}/trigger`, { params: { ms: 800 } });
      const b = await th.api.post(`/api/v1/jobs/${allow}/trigger`, { params: { ms: 800 } });
      const [ra, rb] = await Promise.all([a, b].map((trig) => finishedRun(th.api, trig.body.runId, { resources: true })));
      assert.equal(ra.status, 'SUCCEEDED');
      assert.equal(rb.status, 'SUCCEEDED');
      assert.ok(new Date(rb.startedAt!) < new Date(ra.endedAt!), 'the two runs overlapped');
    });

    test('a running run can be killed, and a run past its timeout is TIMED_OUT', async () => {
      const id = await createJob({ name: 'killable', kind: 'thread', entry: 'hang', schedule: { type: 'MANUAL' } });
      const trig = await th.api.post(`/api/v1/jobs/${id}/trigger`);
      await eventually('the run to be RUNNING', async () => {
        return (await readRun(th.api, trig.body.runId)).status === 'RUNNING' ? true : undefined;
      });
      const kill = await th.api.post(`/api/v1/runs/${trig.body.runId}/kill`);
      assert.equal(kill.status, 202, kill.text);
      assert.equal((await finishedRun(th.api, trig.body.runId)).status, 'KILLED');
      const again = await th.api.post(`/api/v1/runs/${trig.body.runId}/kill`);
      assert.equal(again.status, 409);

      const slow = await createJob({ name: 'too-slow', kind: 'thread', entry: 'spin', timeoutMs: 300, schedule: { type: 'MANUAL' } });
      const run = await th.api.post(`/api/v1/jobs/${slow}/trigger`);
      const ended = await finishedRun(th.api, run.body.runId);
      assert.equal(ended.status, 'TIMED_OUT');
      assert.match(ended.error!.message, /timed out after 300 ms/);
    });

    test('a new bundle version while jobs run: in-flight runs finish on the old code, new runs use the new code, no tick lost', async () => {
      const p = await th.api.post('/api/v1/projects', { name: 'versions' });
      const pid = p.body.id;
      assert.equal((await th.api.upload(pid, await threadBundle(versioned(1)))).status, 201);
      const slow = await th.api.post('/api/v1/jobs', { projectId: pid, name: 'slow', kind: 'thread', entry: 'slowVersion', params: { untilCached: 'go' }, schedule: { type: 'MANUAL' } });
      const ticker = await th.api.post('/api/v1/jobs', { projectId: pid, name: 'ticker', kind: 'thread', entry: 'version', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
      const ticksOn = async (version: string): Promise<number> => (await runsOf(th.api, ticker.body.id)).filter((r) => r.status === 'SUCCEEDED' && r.result === version).length;
      const inFlight = await th.api.post(`/api/v1/jobs/${slow.body.id}/trigger`);
      await eventually('a tick on v1 and the slow run under way', async () => {
        return (await ticksOn('v1')) > 0 && (await readRun(th.api, inFlight.body.runId)).status === 'RUNNING' ? true : undefined;
      });
      const upload = await th.api.upload(pid, await threadBundle(versioned(2)));
      assert.equal(upload.status, 201, upload.text);
      assert.equal(upload.body.version, 2);
      const after2 = await th.api.post(`/api/v1/jobs/${slow.body.id}/trigger`, { params: { ms: 10 } });
      assert.equal((await finishedRun(th.api, after2.body.runId, { resources: true })).result, 'v2');
      assert.equal((await readRun(th.api, inFlight.body.runId)).status, 'RUNNING', 'the run on v1 is still in flight');
      await th.host.parts.store.cache.set(slow.body.id, 'go', true);
      assert.equal((await finishedRun(th.api, inFlight.body.runId, { resources: true })).result, 'v1');
      await eventually('two ticks on v2', async () => ((await ticksOn('v2')) >= 2 ? true : undefined));
      await th.api.post(`/api/v1/jobs/${ticker.body.id}/stop`);
      const ticks = await eventually('the last tick to end', async () => {
        const all = await runsOf(th.api, ticker.body.id);
        return all.some((r) => r.status === 'QUEUED' || r.status === 'RUNNING') ? undefined : all.reverse();
      });
      assert.ok(ticks.every((r) => r.status === 'SUCCEEDED'), JSON.stringify(ticks.map((r) => r.status)));
      for (const tick of ticks) checkRunContract(tick, { resources: true });
      const seconds = ticks.map((r) => new Date(r.scheduledAt).getTime() / 1000);
      for (let i = 1; i < seconds.length; i++) assert.equal(seconds[i]! - seconds[i - 1]!, 1, 'no tick lost');
      assert.equal(ticks[0]!.result, 'v1');
      assert.equal(ticks[ticks.length - 1]!.result, 'v2');
    });
  });
}
