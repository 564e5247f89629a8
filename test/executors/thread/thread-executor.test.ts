import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunOutcome } from '../../../host/executors/shared/executor.js';
import { createThreadExecutor, type ThreadExecutor } from '../../../host/executors/thread/thread-executor.js';
import { silentLogger } from '../../../host/log/logger.js';
import { fixtureDir, measured, recordingHooks, testConfig, threadRequest } from '../helpers.js';

function assertFailed(outcome: RunOutcome): asserts outcome is Extract<RunOutcome, { ok: false }> {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`);
}

describe('thread executor', () => {
  let executor: ThreadExecutor;
  before(() => {
    executor = createThreadExecutor({ config: testConfig(), logger: silentLogger });
  });
  after(async () => {
    await executor.close();
  });

  test('a run handed over ahead of its start time (gate.startAt) starts then, on the worker, and an abort before drops it', async () => {
    // A warm worker first: the bound below is the gate's precision, not a cold worker's start on a busy machine.
    assert.equal((await executor.execute(threadRequest('plain'), recordingHooks())).ok, true);
    const startAt = Date.now() + 300;
    const hooks = Object.assign(recordingHooks(), { gate: { startAt, onOpen: () => undefined } });
    const outcome = await executor.execute(threadRequest('lag', { scheduledAt: new Date(startAt) }), hooks);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    const lag = Number((outcome as { result: string }).result);
    assert.ok(lag >= 0 && lag < 250, `started ${lag} ms after its start time`);
    assert.ok(hooks.startedAt! >= startAt, 'not before its start time');

    const dropped = Object.assign(recordingHooks(), { gate: { startAt: Date.now() + 500, onOpen: () => undefined } });
    const pending = executor.execute(threadRequest('plain'), dropped);
    setTimeout(() => dropped.controller.abort('the job stopped'), 100);
    const off = await pending;
    assertFailed(off);
    assert.equal(off.aborted, true);
    assert.match(off.error.message, /before it started: the job stopped/);
    assert.equal(dropped.startedAt, null, 'the job never started');
  });

  async function assertHealthy(): Promise<void> {
    const outcome = await executor.execute(threadRequest('plain'), recordingHooks());
    assert.deepEqual(measured(outcome), { ok: true, result: 'plain result' });
  }

  test('a class-based job is instantiated once per worker', async () => {
    const first = await executor.execute(threadRequest('Counter'), recordingHooks());
    assert.equal(first.ok, true);
    const results = new Set<string | null>([(first as { result: string }).result]);
    for (let i = 0; i < 3; i++) results.add(((await executor.execute(threadRequest('Counter'), recordingHooks())) as { result: string }).result);
    assert.ok(results.has('2') || results.size === 4, `counter kept no state: ${[...results].join(',')}`);
  });

  test('an export that is not a job fails with a message naming it', async () => {
    const outcome = await executor.execute(threadRequest('notAJob'), recordingHooks());
    assertFailed(outcome);
    assert.match(outcome.error.message, /export "notAJob"/);
    await assertHealthy();
  });

  test('a busy loop is terminated after the kill grace', async () => {
    const hooks = recordingHooks();
    const running = executor.execute(threadRequest('spin'), hooks);
    setTimeout(() => hooks.controller.abort(new Error('timeout')), 100);
    const outcome = await running;
    assertFailed(outcome);
    assert.equal(outcome.aborted, true);
    await assertHealthy();
  });

  test('a failing host cache rejects the cache call of the job with the message of the host', async () => {
    const hooks = recordingHooks();
    const failing = { ...hooks, cache: { ...hooks.cache, get: () => Promise.reject(new Error('store is down')) } };
    assert.deepEqual(measured(await executor.execute(threadRequest('cacheFails'), failing)), { ok: true, result: 'cache error: store is down' });
  });

  test('an unhandled rejection inside a job is logged to its run and does not kill the worker', async () => {
    const hooks = recordingHooks();
    assert.deepEqual(measured(await executor.execute(threadRequest('forgetful'), hooks)), { ok: true, result: 'still fine' });
    assert.ok(hooks.lines.some((l) => l.level === 'error' && l.message.includes('nobody awaited me')), JSON.stringify(hooks.lines));
  });
});

describe('thread executor across bundle versions', () => {
  test('a run in flight on v1 finishes with v1 code while a new run on v2 returns v2', async (t) => {
    const executor = createThreadExecutor({ config: testConfig(), logger: silentLogger });
    t.after(() => executor.close());
    const v1 = threadRequest('version', { params: { delayMs: 400 } });
    const onV1 = executor.execute(v1, recordingHooks());
    await new Promise((resolve) => setTimeout(resolve, 150));
    const v2 = threadRequest('version', { bundle: { id: 2, dir: fixtureDir('jobs-v2'), main: 'index.js' } });
    assert.deepEqual(measured(await executor.execute(v2, recordingHooks())), { ok: true, result: 'v2' });
    assert.deepEqual(measured(await onV1), { ok: true, result: 'v1' });
    await executor.retire(1, 2);
    assert.deepEqual(measured(await executor.execute(threadRequest('version', { bundle: v2.bundle }), recordingHooks())), { ok: true, result: 'v2' });
  });

  test('an older version the host makes current again keeps its pool between runs, whatever newer version ran before', async (t) => {
    const executor = createThreadExecutor({ config: testConfig({ threadsPerProject: 1 }), logger: silentLogger });
    t.after(() => executor.close());
    const v2 = { id: 2, dir: fixtureDir('jobs-v2'), main: 'index.js' };
    assert.deepEqual(measured(await executor.execute(threadRequest('version', { bundle: v2 }), recordingHooks())), { ok: true, result: 'v2' });
    await executor.retire(1, 1);
    const threads: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const outcome = await executor.execute(threadRequest('threadId'), recordingHooks());
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      threads.push(outcome.ok && outcome.result);
    }
    assert.equal(new Set(threads).size, 1, `one worker served every run: ${threads.join(', ')}`);
    // A run of the newer version still in flight somewhere does not make it current again.
    assert.deepEqual(measured(await executor.execute(threadRequest('version', { bundle: v2 }), recordingHooks())), { ok: true, result: 'v2' });
    const after = await executor.execute(threadRequest('threadId'), recordingHooks());
    assert.equal(after.ok && after.result, threads[0]);
  });

  test('timers a job leaves behind are cleared at its end, and its log says so', async (t) => {
    const executor = createThreadExecutor({ config: testConfig({ threadsPerProject: 1 }), logger: silentLogger });
    t.after(() => executor.close());
    const hooks = recordingHooks();
    assert.deepEqual(measured(await executor.execute(threadRequest('startTicker'), hooks)), { ok: true, result: 'started' });
    assert.ok(hooks.lines.some((line) => line.level === 'warn' && /^1 timer .* still pending at the run's end cleared/.test(line.message)), JSON.stringify(hooks.lines));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const outcome = await executor.execute(threadRequest('stopTicker'), recordingHooks());
    assert.deepEqual(measured(outcome), { ok: true, result: '0' });
  });

  test('close ends in-flight runs as aborted and leaves no thread behind', async () => {
    const executor = createThreadExecutor({ config: testConfig(), logger: silentLogger });
    const running = executor.execute(threadRequest('hang'), recordingHooks());
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(executor.threadCount() >= 1);
    await executor.close();
    const outcome = await running;
    assertFailed(outcome);
    assert.equal(outcome.aborted, true);
    assert.equal(executor.threadCount(), 0);
    const late = await executor.execute(threadRequest('plain'), recordingHooks());
    assertFailed(late);
    assert.equal(late.aborted, true);
    assert.equal(executor.threadCount(), 0);
  });
});
