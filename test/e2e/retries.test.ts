/**
 * Retries: a failed run is run again (trigger RETRY, attempt 2, 3, …) after its backoff, until it succeeds or the
 * count is spent; an unrecoverable failure is not retried; the policy is validated at the edge.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { retryDelay } from '../../host/dispatch/dispatcher.js';
import { eventually, startHost, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns, readRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `
export const flaky = { execute(ctx) { if (ctx.attempt < 3) throw new Error('not yet, attempt ' + ctx.attempt); return 'made it on attempt ' + ctx.attempt; } };
export const doomed = { execute() { throw Object.assign(new Error('no point trying again'), { name: 'UnrecoverableJobError', code: 'UNRECOVERABLE' }); } };
export const slow = { execute(ctx) { return new Promise((resolve) => { const t = setTimeout(resolve, 5000); ctx.signal.addEventListener('abort', () => clearTimeout(t)); }); } };
`;

describe('retries', () => {
  let th: TestHost;
  let projectId: number;

  async function job(entry: string, retries: unknown, extra: Record<string, unknown> = {}): Promise<number> {
    const res = await th.api.post('/api/v1/jobs', { projectId, name: `${entry}-${Math.random().toString(36).slice(2, 7)}`, kind: 'thread', entry, schedule: { type: 'MANUAL' }, retries, ...extra });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  // A retry belongs to the fire time of the run it retries, so order by attempt.
  const runsOf = async (id: number): Promise<ContractRun[]> => (await listRuns(th.api, `jobId=${id}`)).sort((a, b) => a.attempt - b.attempt);

  /**
   * The runs of a job once the host is done with `runId`: a retry is decided, and its QUEUED row handed to the
   * writer, as the run ends, so once the host holds the run no more and the writer has flushed, a retry that was
   * due is in the list (waiting out its backoff) and one that is missing will not come.
   */
  async function runsAfter(id: number, runId: string): Promise<ContractRun[]> {
    await finishedRun(th.api, runId);
    await th.host.parts.dispatcher.ended(runId);
    await th.host.parts.store.runWriter.flush();
    return runsOf(id);
  }

  before(async () => {
    th = await startHost();
    projectId = (await th.api.post('/api/v1/projects', { name: 'retries' })).body.id;
    assert.equal((await th.api.upload(projectId, await threadBundle(CODE))).status, 201);
  });

  after(async () => {
    await th?.stop();
  });

  test('a failing run is retried with attempt 2 and 3 until it succeeds', async () => {
    const id = await job('flaky', { count: 5, backoff: { type: 'fixed', delayMs: 200 } });
    await th.api.post(`/api/v1/jobs/${id}/trigger`);
    const runs = await eventually('the third attempt to succeed', async () => {
      const all = await runsOf(id);
      return all.some((r) => r.status === 'SUCCEEDED') ? all : undefined;
    });
    assert.deepEqual(runs.map((r) => [r.trigger, r.attempt, r.status]), [
      ['MANUAL', 1, 'FAILED'],
      ['RETRY', 2, 'FAILED'],
      ['RETRY', 3, 'SUCCEEDED'],
    ]);
    // Each attempt ran its code on a thread to its end, failing or not.
    for (const run of runs) checkRunContract(run, { resources: true });
    assert.equal(runs[2]!.result, 'made it on attempt 3');
    const gap = new Date(runs[1]!.startedAt!).getTime() - new Date(runs[0]!.endedAt!).getTime();
    assert.ok(gap >= 190, `the backoff was waited (${gap} ms)`);
  });

  test('the retry count is a limit', async () => {
    const id = await job('flaky', { count: 1, backoff: { type: 'fixed', delayMs: 50 } });
    await th.api.post(`/api/v1/jobs/${id}/trigger`);
    const second = await eventually('the second attempt', async () => (await runsOf(id)).find((r) => r.attempt === 2));
    assert.deepEqual((await runsAfter(id, second.runId)).map((r) => [r.attempt, r.status]), [[1, 'FAILED'], [2, 'FAILED']]);
  });

  test('an unrecoverable failure and a killed run are not retried', async () => {
    const doomed = await job('doomed', { count: 3, backoff: { type: 'fixed', delayMs: 50 } });
    const doomedRun = (await th.api.post(`/api/v1/jobs/${doomed}/trigger`)).body.runId;
    const slow = await job('slow', { count: 3, backoff: { type: 'fixed', delayMs: 50 } });
    const run = (await th.api.post(`/api/v1/jobs/${slow}/trigger`)).body.runId;
    await eventually('the slow run to be RUNNING', async () => ((await readRun(th.api, run)).status === 'RUNNING' ? true : undefined));
    assert.equal((await th.api.post(`/api/v1/runs/${run}/kill`)).status, 202);
    assert.deepEqual((await runsAfter(doomed, doomedRun)).map((r) => r.status), ['FAILED']);
    assert.deepEqual((await runsAfter(slow, run)).map((r) => r.status), ['KILLED']);
  });

  test('a bad retry policy is refused naming the field', async () => {
    for (const [retries, field] of [
      [{ backoff: { type: 'fixed', delayMs: 10 } }, 'retries.count'],
      [{ count: 2, backoff: { type: 'sometimes' } }, 'retries.backoff.type'],
      [{ count: 2, backoff: { type: 'fixed', delayMs: -5 } }, 'retries.backoff.delayMs'],
      [{ count: 2, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 10 } }, 'retries.backoff.maxDelayMs'],
    ] as const) {
      const res = await th.api.post('/api/v1/jobs', { projectId, name: 'bad-retry', kind: 'thread', entry: 'flaky', schedule: { type: 'MANUAL' }, retries });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error.details.field, field);
    }
  });

  test('exponential backoff doubles up to its cap', () => {
    const policy = { count: 10, backoff: { type: 'exponential' as const, delayMs: 100, maxDelayMs: 1000 } };
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => retryDelay(policy, n)), [100, 200, 400, 800, 1000]);
    assert.equal(retryDelay({ count: 1, backoff: { type: 'fixed', delayMs: 250 } }, 7), 250);
  });
});
