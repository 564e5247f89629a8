/**
 * Overload: scheduled fires beyond maxRunsInFlight are recorded as SKIPPED (code HOST_OVERLOADED) instead of piling
 * up in memory, and the host keeps running the runs it holds. Fires that come while the database is too far behind
 * (maxRowLagMs) are dropped without a row, and counted in /metrics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JobRecord } from '../../host/domain/index.js';
import { eventually, startHost, type TestHost } from '../helpers/host.js';
import { listRuns } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `export const slow = { execute() { return new Promise((resolve) => setTimeout(() => resolve('done'), 4500)); } };`;

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
      const items = await listRuns(th.api, `jobId=${made.body.id}`);
      const overloaded = items.some((r) => r.status === 'SKIPPED' && r.error?.code === 'HOST_OVERLOADED');
      return overloaded && items.some((r) => r.status === 'SUCCEEDED') ? items : undefined;
    }, 15_000);
    const skipped = runs.find((r) => r.error?.code === 'HOST_OVERLOADED')!;
    assert.match(skipped.error!.message, /maxRunsInFlight/);
    assert.ok(th.host.parts.dispatcher.activeCount <= 3, `holds ${th.host.parts.dispatcher.activeCount} runs`);
    await th.api.post(`/api/v1/jobs/${made.body.id}/stop`);
    const metrics = (await th.api.get('/metrics')).text;
    assert.match(metrics, /jobcenter_fires_dropped_total\{reason="max_runs_in_flight"\} [1-9]/);
  });
});

describe('overload of the database', () => {
  let th: TestHost;

  before(async () => {
    th = await startHost({ options: { maxRowLagMs: 1_000 } });
  });

  after(async () => {
    await th?.stop();
  });

  test('fires planned while the rows are far behind are dropped, counted, and leave no row; then fires run again', async () => {
    const { dispatcher, store } = th.host.parts;
    const projectId = (await th.api.post('/api/v1/projects', { name: 'backlog' })).body.id;
    assert.equal((await th.api.upload(projectId, await threadBundle(`export const quick = { execute() { return 'ok'; } };`))).status, 201);
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 4; i++) {
      const made = await th.api.post('/api/v1/jobs', { projectId, name: `quick-${i}`, kind: 'thread', entry: 'quick', schedule: { type: 'MANUAL' } });
      assert.equal(made.status, 201, made.text);
      jobs.push((await store.jobs.get(made.body.id))!);
    }
    const current = (id: number): JobRecord | undefined => jobs.find((j) => j.id === id);
    // A database 1.5 s behind (its oldest unwritten row says so): one wake's fires are dropped, all of them.
    Object.defineProperty(store.runWriter, 'lagMs', { configurable: true, get: () => 1_500 });
    dispatcher.plan(jobs.map((job) => ({ job, fireAt: new Date(Date.now() + 200) })), current);
    assert.deepEqual(dispatcher.report.dropped, { in_flight: 0, row_backlog: 4, db_unavailable: 0 });
    // Noted for the catch-up: these jobs are not on the schedule, so it will count them as missed.
    assert.equal(dispatcher.missed.pending, 4);
    // Caught up: the next wake plans again.
    delete (store.runWriter as unknown as Record<string, unknown>).lagMs;
    assert.ok(store.runWriter.lagMs < 1_000);
    dispatcher.plan([{ job: jobs[0]!, fireAt: new Date(Date.now() + 200) }], current);
    const runs = await eventually('the one planned run', async () => {
      const items = await listRuns(th.api, `projectId=${projectId}`);
      return items.length > 0 && items.every((r) => r.status === 'SUCCEEDED') ? items : undefined;
    });
    assert.equal(runs.length, 1);
    const metrics = (await th.api.get('/metrics')).text;
    assert.match(metrics, /jobcenter_fires_dropped_total\{reason="row_backlog"\} 4/);
    assert.match(metrics, /jobcenter_overloaded 1/);
    assert.match(metrics, /jobcenter_run_row_backlog 0/);
  });
});
