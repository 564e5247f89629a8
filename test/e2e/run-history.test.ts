/**
 * The run history is complete and true, over HTTP against a real host on SQLite and MySQL/MariaDB: every finished run
 * of every kind and trigger carries its start and duration, a planned run that its worker already started keeps its
 * row when its job leaves the schedule, and a retry waiting for its backoff survives a stop and runs after the restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { eventually, sleep, startHost, type TestHost } from '../helpers/host.js';
import { checkFinishedRuns, checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { listRuns } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `
export const quick = { execute(ctx) { ctx.log.info('quick ' + ctx.runId); return 'quick'; } };
export const sleepy = {
  execute(ctx) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => resolve('slept'), (ctx.params && ctx.params.ms) || 2000);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted: ' + ctx.signal.reason)); });
    });
  },
};
export const failsOnce = {
  execute(ctx) {
    if (ctx.attempt === 1) throw new Error('first attempt fails');
    return 'retried ' + JSON.stringify(ctx.params);
  },
};
`;

type Run = ContractRun;

for (const database of testDatabases()) {
  describe(`the run history on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let projectId: number;

    async function createJob(body: Record<string, unknown>): Promise<number> {
      const res = await th.api.post('/api/v1/jobs', { projectId, concurrency: 'ALLOW', schedule: { type: 'MANUAL' }, ...body });
      assert.equal(res.status, 201, res.text);
      return res.body.id;
    }

    const runsOf = (jobId: number): Promise<Run[]> => listRuns(th.api, `jobId=${jobId}&limit=500`);

    /** Every run of the job once none is QUEUED or RUNNING. */
    async function settledRunsOf(jobId: number, timeoutMs = 15_000): Promise<Run[]> {
      return eventually(`the runs of job ${jobId} to end`, async () => {
        await th.host.parts.store.runWriter.flush();
        const runs = await runsOf(jobId);
        return runs.every((r) => r.status !== 'QUEUED' && r.status !== 'RUNNING') ? runs : undefined;
      }, timeoutMs);
    }

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db });
      const project = await th.api.post('/api/v1/projects', { name: 'history' });
      assert.equal(project.status, 201, project.text);
      projectId = project.body.id;
      const upload = await th.api.upload(projectId, await threadBundle(CODE));
      assert.equal(upload.status, 201, upload.text);
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    test('every finished run of every kind, policy and trigger carries its start, its end and its duration', async () => {
      const every = { type: 'CRON', cron: '* * * * * *' };
      const jobs = [
        await createJob({ name: 'quick-allow', kind: 'thread', entry: 'quick', schedule: every, start: true }),
        await createJob({ name: 'quick-skip', kind: 'thread', entry: 'quick', schedule: every, concurrency: 'SKIP', start: true }),
        await createJob({ name: 'quick-wait', kind: 'thread', entry: 'quick', schedule: every, concurrency: 'WAIT', start: true }),
        await createJob({ name: 'true-exec', kind: 'exec', entry: ['true'], schedule: every, start: true }),
      ];
      const manual = await createJob({ name: 'quick-manual', kind: 'thread', entry: 'quick' });
      for (let i = 0; i < 3; i++) assert.equal((await th.api.post(`/api/v1/jobs/${manual}/trigger`)).status, 202);
      await eventually('three finished runs of every scheduled job', async () => {
        for (const id of jobs) if (checkFinishedRuns(await runsOf(id)).length < 3) return undefined;
        return true;
      });
      for (const id of jobs) assert.equal((await th.api.post(`/api/v1/jobs/${id}/stop`)).status, 200);
      for (const id of [...jobs, manual]) {
        const runs = await settledRunsOf(id);
        const finished = checkFinishedRuns(runs);
        assert.ok(finished.length >= 3, `job ${id} ran ${finished.length} times`);
        for (const run of finished) {
          assert.equal(run.status, 'SUCCEEDED', `${run.runId}: ${run.error?.message}`);
          assert.notEqual(run.startedAt, null, `${run.trigger} run ${run.runId} has its start`);
        }
      }
    });

    test("a run's log read right after its end is whole, while its final row is still being written", async () => {
      const id = await createJob({ name: 'log-at-end', kind: 'thread', entry: 'quick' });
      // A database that takes 600 ms to commit a run's end: the run is over before its final row says where its log is.
      const sink = (th.host.parts.store.runWriter as unknown as { sink: { updateMany(updates: { endedAt?: unknown }[]): Promise<void> } }).sink;
      const updateMany = sink.updateMany;
      sink.updateMany = async function (updates) {
        if (updates.some((u) => u.endedAt)) await sleep(600);
        return updateMany.call(this, updates);
      };
      try {
        for (const follow of [false, true]) {
          const trigger = await th.api.post(`/api/v1/jobs/${id}/trigger`);
          assert.equal(trigger.status, 202, trigger.text);
          const runId: string = trigger.body.runId;
          await eventually(`run ${runId} to end`, async () => (th.host.parts.dispatcher.isActive(runId) ? undefined : true));
          const row = (await th.api.get(`/api/v1/runs/${runId}`)).body;
          const log = await th.api.get(`/api/v1/runs/${runId}/log${follow ? '?follow=1' : ''}`);
          assert.equal(log.status, 200, log.text);
          assert.match(log.text, new RegExp(`quick ${runId}`), `the log of run ${runId} (its row said ${row.status} as the log was asked for${follow ? ', followed' : ''})`);
        }
      } finally {
        sink.updateMany = updateMany;
      }
    });

    test('a planned run that its worker started on its own keeps its row when the job is stopped at that moment', async () => {
      const id = await createJob({ name: 'planned-allow', kind: 'thread', entry: 'sleepy', params: { ms: 1_500 }, schedule: { type: 'INTERVAL', everyMs: 1_000 }, start: true });
      const job = (await th.host.parts.store.jobs.get(id))!;
      // Wait for a fire time that is planned already: its row written as QUEUED ahead, the run handed to its worker.
      const fireAt = await eventually('a planned fire', async () => {
        const planned = (await runsOf(id)).find((r) => r.status === 'QUEUED' && Date.parse(r.scheduledAt) - Date.now() > 150);
        return planned ? Date.parse(planned.scheduledAt) : undefined;
      });
      await sleep(Math.max(0, fireAt - Date.now() - 100));
      // Hold the host's event loop past the fire time: the worker starts the run on its own timer, and the host has
      // not launched it yet when the stop takes the job off the schedule, as a busy host would.
      while (Date.now() < fireAt + 150) {
        // busy
      }
      void th.host.parts.engine.stopJob(job, 'test');
      const runs = await settledRunsOf(id);
      const run = runs.find((r) => Date.parse(r.scheduledAt) === fireAt);
      assert.ok(run, `the run of ${new Date(fireAt).toISOString()} kept its row (${runs.map((r) => r.scheduledAt).join(', ')})`);
      checkRunContract(run);
      assert.equal(run.status, 'KILLED', run.error?.message);
      assert.match(run.error!.message, /left the schedule/);
      checkFinishedRuns(runs);
    });

    test('a retry waiting for its backoff survives a stop and runs after the restart, with its run\'s params', async () => {
      const made = await database.make();
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-retry-'));
      let host: TestHost | null = await startHost({ db: made.db, dataDir });
      try {
        const project = await host.api.post('/api/v1/projects', { name: 'retry-restart' });
        assert.equal((await host.api.upload(project.body.id, await threadBundle(CODE))).status, 201);
        const job = await host.api.post('/api/v1/jobs', {
          projectId: project.body.id, name: 'fails-once', kind: 'thread', entry: 'failsOnce', schedule: { type: 'MANUAL' },
          retries: { count: 2, backoff: { type: 'fixed', delayMs: 4_000 } },
        });
        assert.equal(job.status, 201, job.text);
        const first = await host.api.post(`/api/v1/jobs/${job.body.id}/trigger`, { params: { city: 'Zürich' } });
        assert.equal(first.status, 202, first.text);
        const waiting = await eventually('the retry to wait for its backoff', async () => {
          const runs = (await host!.api.get<{ items: (Run & { notBefore: string | null })[] }>(`/api/v1/runs?jobId=${job.body.id}`)).body.items;
          return runs.find((r) => r.trigger === 'RETRY');
        });
        assert.equal(waiting.status, 'QUEUED');
        assert.equal(waiting.attempt, 2);
        assert.ok(waiting.notBefore && Date.parse(waiting.notBefore) > Date.now(), `notBefore ${waiting.notBefore} is ahead`);
        await host.stop();
        host = await startHost({ db: made.db, dataDir });
        const retried = await eventually('the retry to run after the restart', async () => {
          const res = await host!.api.get<Run & { notBefore: string }>(`/api/v1/runs/${waiting.runId}`);
          return res.body.status === 'QUEUED' || res.body.status === 'RUNNING' ? undefined : res.body;
        }, 20_000);
        checkRunContract(retried);
        assert.equal(retried.status, 'SUCCEEDED', retried.error?.message);
        assert.equal(retried.result, 'retried {"city":"Zürich"}');
        assert.ok(Date.parse(retried.startedAt!) >= Date.parse(retried.notBefore), 'it did not start before its backoff');
        checkFinishedRuns((await host.api.get<{ items: Run[] }>(`/api/v1/runs?jobId=${job.body.id}`)).body.items);
      } finally {
        await host?.stop();
        await rm(dataDir, { recursive: true, force: true });
        await made.drop();
      }
    });
  });
}
