/**
 * Hostile jobs, bundles and requests: each gets a clear error or a clearly failed run, and a job that runs every
 * second on the same host keeps running through all of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractOptions, type ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { threadBundle, zip } from '../helpers/zip.js';
import { HOSTILE_AND_GOOD } from '../fixtures/e2e/jobs.js';

describe('hostile input', () => {
  let th: TestHost;
  let projectId: number;
  let heartbeat: number;

  /** Runs the entry as a job of its own and returns its finished run, checked against the run-row contract. */
  async function trigger(entry: string, extra: Record<string, unknown> = {}, contract: ContractOptions = {}): Promise<ContractRun> {
    const job = await th.api.post('/api/v1/jobs', { projectId, name: `${entry}-${Math.random().toString(36).slice(2, 8)}`, kind: 'thread', entry, schedule: { type: 'MANUAL' }, ...extra });
    assert.equal(job.status, 201, job.text);
    const run = await th.api.post(`/api/v1/jobs/${job.body.id}/trigger`);
    assert.equal(run.status, 202, run.text);
    return finishedRun(th.api, run.body.runId, { ...contract, timeoutMs: 30_000 });
  }

  before(async () => {
    th = await startHost({ options: { defaultMemoryLimitMb: 64 } });
    projectId = (await th.api.post('/api/v1/projects', { name: 'hostile' })).body.id;
    assert.equal((await th.api.upload(projectId, await threadBundle(HOSTILE_AND_GOOD))).status, 201);
    const other = (await th.api.post('/api/v1/projects', { name: 'bystander' })).body.id;
    assert.equal((await th.api.upload(other, await threadBundle(HOSTILE_AND_GOOD))).status, 201);
    const job = await th.api.post('/api/v1/jobs', { projectId: other, name: 'heartbeat', kind: 'thread', entry: 'ok', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
    heartbeat = job.body.id;
  });

  after(async () => {
    await th?.stop();
  });

  test('a job that throws ends FAILED with its message', async () => {
    const run = await trigger('thrower', {}, { resources: true });
    assert.equal(run.status, 'FAILED');
    assert.match(run.error!.message, /boom from the job/);
    const log = await th.api.get(`/api/v1/runs/${run.runId}/log`);
    assert.match(log.text, /boom from the job/);
  });

  test('a job that never resolves is ended by its timeout', async () => {
    assert.equal((await trigger('hang', { timeoutMs: 300 })).status, 'TIMED_OUT');
  });

  test('an endless loop is terminated at its timeout', async () => {
    assert.equal((await trigger('spin', { timeoutMs: 300 })).status, 'TIMED_OUT');
  });

  test('a memory hog fails at its memory limit', async () => {
    const run = await trigger('hog', { memoryLimitMb: 32, timeoutMs: 60_000 });
    assert.equal(run.status, 'FAILED');
    assert.match(run.error!.message, /memory/i);
  });

  test('process.exit inside a job fails that run only', async () => {
    const run = await trigger('exiter');
    assert.equal(run.status, 'FAILED');
    assert.match(run.error!.message, /exit/);
  });

  test('a job that floods its log is capped, keeping head and tail', async () => {
    const run = await trigger('chatty', {}, { resources: true });
    assert.equal(run.status, 'SUCCEEDED');
    const log = await th.api.get(`/api/v1/runs/${run.runId}/log`);
    assert.match(log.text, /line 0 /);
    assert.match(log.text, /line 4999 /);
    assert.ok(log.text.length < 1.2 * 1024 * 1024, `log is capped (${log.text.length} chars)`);
  });

  test('a job that changes its globals does not change the host', async () => {
    const run = await trigger('globals', {}, { resources: true });
    assert.equal(run.status, 'SUCCEEDED');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('malformed and malicious zips are refused with a message and change nothing', async () => {
    const before = (await th.api.get(`/api/v1/projects/${projectId}`)).body.currentBundleId;
    const cases: [string, Buffer][] = [
      ['not a zip', Buffer.from('this is not a zip file')],
      ['no manifest', await zip({ 'index.js': 'export const a = 1;' })],
      ['bad manifest JSON', await zip({ 'jobcenter.json': '{ nope' })],
      ['wrong manifest types', await zip({ 'jobcenter.json': JSON.stringify({ name: 5, version: '1', kind: 'thread', main: 'index.js' }) })],
      ['main that throws', await threadBundle('throw new Error("bad import");')],
      ['no jobs', await threadBundle('export const x = 1;')],
      ['main that loops', await threadBundle('for (;;) {}')],
    ];
    for (const [what, body] of cases) {
      const res = await th.api.upload(projectId, body);
      assert.ok([400, 413, 422].includes(res.status), `${what}: ${res.status} ${res.text}`);
      assert.ok(res.body.error?.message, `${what} has a message`);
    }
    assert.equal((await th.api.get(`/api/v1/projects/${projectId}`)).body.currentBundleId, before);
  });

  test('bad requests get 400 naming the field', async () => {
    const base = { projectId, name: 'bad', kind: 'thread', entry: 'ok' };
    const cases: [unknown, string][] = [
      [{ ...base, schedule: { type: 'CRON', cron: '* * 25 * * *' } }, 'schedule.cron'],
      [{ ...base, schedule: { type: 'CRON', cron: '* * * * * *', timezone: 'Mars/Base' } }, 'schedule.timezone'],
      [{ ...base, schedule: { type: 'INTERVAL', everyMs: 'often' } }, 'schedule.everyMs'],
      [{ ...base, schedule: { type: 'MANUAL' }, concurrency: 'SOMETIMES' }, 'concurrency'],
      [{ ...base, schedule: { type: 'MANUAL' }, timeoutMs: -1 }, 'timeoutMs'],
      [{ ...base, name: 42, schedule: { type: 'MANUAL' } }, 'name'],
      [{ ...base, schedule: { type: 'MANUAL' }, surprise: true }, 'surprise'],
    ];
    for (const [body, field] of cases) {
      const res = await th.api.post('/api/v1/jobs', body);
      assert.equal(res.status, 400, `${field}: ${res.text}`);
      assert.equal(res.body.error.code, 'BAD_REQUEST');
      assert.match(res.body.error.message + JSON.stringify(res.body.error.details ?? {}), new RegExp(field.replace('.', '\\.')));
    }
    const broken = await th.api.request<{ error: { message: string } }>('POST', '/api/v1/jobs', '{"projectId": ');
    assert.equal(broken.status, 400);
    assert.match(broken.body.error.message, /not valid JSON/);
    const missingExport = await th.api.post('/api/v1/jobs', { ...base, entry: 'nothere', schedule: { type: 'MANUAL' } });
    assert.equal(missingExport.status, 422);
    assert.match(missingExport.body.error.message, /nothere/);
  });

  test('the every-second job kept running through all of it', async () => {
    const runs = await listRuns(th.api, `jobId=${heartbeat}&limit=1000`);
    const ok = runs.filter((r) => r.status === 'SUCCEEDED');
    assert.ok(ok.length >= 3, `${ok.length} heartbeat runs`);
    for (const run of ok) checkRunContract(run, { resources: true });
    assert.equal(runs.filter((r) => r.status === 'FAILED').length, 0);
    const health = await fetch(`${th.url}/healthz`);
    assert.equal(health.status, 200);
  });
});
