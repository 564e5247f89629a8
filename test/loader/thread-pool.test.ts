import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunOutcome } from '../../host/loader/executor.js';
import { createThreadExecutor } from '../../host/loader/thread-executor.js';
import { silentLogger } from '../../host/log/logger.js';
import { measured, recordingHooks, testConfig, threadRequest } from './helpers.js';

function assertFailed(outcome: RunOutcome): asserts outcome is Extract<RunOutcome, { ok: false }> {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('thread pool workers running many runs at once', () => {
  test('a burst of 1,000 runs completes with every result right', async (t) => {
    const executor = createThreadExecutor({ config: testConfig(), logger: silentLogger });
    t.after(() => executor.close());
    const requests = Array.from({ length: 1000 }, (_, i) => threadRequest('echo', { params: { i } }));
    const outcomes = await Promise.all(requests.map((request) => executor.execute(request, recordingHooks())));
    outcomes.forEach((outcome, i) => assert.deepEqual(measured(outcome), { ok: true, result: `${requests[i].runId}:${i}` }));
    assert.ok(executor.threadCount() <= 2, `threads: ${executor.threadCount()}`);
  });

  test('concurrent runs on one worker keep their own log lines, console output included', async (t) => {
    const executor = createThreadExecutor({ config: testConfig({ threadsPerProject: 1 }), logger: silentLogger });
    t.after(() => executor.close());
    const hooks = Array.from({ length: 20 }, () => recordingHooks());
    const outcomes = await Promise.all(
      hooks.map((h, i) => executor.execute(threadRequest('slowEcho', { params: { i, delayMs: (i * 7) % 40 } }), h)),
    );
    outcomes.forEach((outcome, i) => {
      assert.deepEqual(measured(outcome), { ok: true, result: String(i) });
      assert.deepEqual(hooks[i].lines, [
        { level: 'info', message: `begin ${i}` },
        { level: 'info', message: `end ${i}` },
      ]);
    });
  });

  test('runs sharing a worker with a killed busy loop fail with the restart message; others and later runs succeed', async (t) => {
    const executor = createThreadExecutor({ config: testConfig({ threadsPerProject: 2 }), logger: silentLogger });
    t.after(() => executor.close());
    // Until both workers have served runs: the first takes up to its cap, the rest makes the pool grow.
    const threads = new Set<string | null>();
    for (let round = 0; round < 20 && threads.size < 2; round++) {
      const burst = Array.from({ length: 300 }, () => executor.execute(threadRequest('threadId', { params: { delayMs: 100 } }), recordingHooks()));
      for (const outcome of await Promise.all(burst)) threads.add(outcome.ok ? outcome.result : null);
    }
    assert.equal(threads.size, 2, `threads used: ${[...threads].join(',')}`);
    const spinHooks = recordingHooks();
    const spinRequest = threadRequest('spin');
    const spinning = executor.execute(spinRequest, spinHooks);
    const neighbours = [1, 2, 3].map((i) => executor.execute(threadRequest('slowEcho', { params: { i, delayMs: 200 } }), recordingHooks()));
    setTimeout(() => spinHooks.controller.abort(new Error('killed by admin')), 100);
    const spun = await spinning;
    assertFailed(spun);
    assert.equal(spun.aborted, true);
    assert.match(spun.error.message, /terminated/);
    const outcomes = await Promise.all(neighbours);
    const lost = outcomes.filter((o) => !o.ok);
    assert.ok(lost.length >= 1 && lost.length < 3, JSON.stringify(outcomes));
    for (const outcome of lost) {
      assertFailed(outcome);
      assert.equal(outcome.aborted, false);
      assert.equal(outcome.error.code, 'WORKER_RESTARTED');
      assert.equal(outcome.error.message, `worker restarted because run ${spinRequest.runId} had to be stopped`);
    }
    assert.deepEqual(measured(await executor.execute(threadRequest('plain'), recordingHooks())), { ok: true, result: 'plain result' });
    assert.ok(executor.threadCount() <= 2, `threads: ${executor.threadCount()}`);
  });

  test('a memory hog fails its run and the runs beside it, and the next run works', async (t) => {
    const executor = createThreadExecutor({ config: testConfig({ threadsPerProject: 1 }), logger: silentLogger });
    t.after(() => executor.close());
    const limited = { memoryLimitMb: 32 };
    const beside = executor.execute(threadRequest('slowEcho', { ...limited, params: { i: 1, delayMs: 5_000 } }), recordingHooks());
    await sleep(50);
    const hog = await executor.execute(threadRequest('hog', limited), recordingHooks());
    assertFailed(hog);
    assert.equal(hog.aborted, false);
    assert.equal(hog.error.code, 'ERR_WORKER_OUT_OF_MEMORY');
    assert.match(hog.error.message, /a run on this worker exceeded the memory limit of 32 MB/);
    const other = await beside;
    assertFailed(other);
    assert.match(other.error.message, /memory limit of 32 MB.*was in flight on the same worker/);
    assert.deepEqual(measured(await executor.execute(threadRequest('plain', limited), recordingHooks())), { ok: true, result: 'plain result' });
  });

  test('a cache value that cannot be cloned fails that call only', async (t) => {
    const executor = createThreadExecutor({ config: testConfig(), logger: silentLogger });
    t.after(() => executor.close());
    const [bad, good] = await Promise.all([
      executor.execute(threadRequest('cacheBad'), recordingHooks()),
      executor.execute(threadRequest('plain'), recordingHooks()),
    ]);
    assert.deepEqual(measured(bad), { ok: true, result: 'cache error: DataCloneError' });
    assert.deepEqual(measured(good), { ok: true, result: 'plain result' });
  });

  test('close leaves no thread and no handle behind', async () => {
    const baseline = process.getActiveResourcesInfo().sort();
    const executor = createThreadExecutor({ config: testConfig(), logger: silentLogger });
    await Promise.all(Array.from({ length: 400 }, (_, i) => executor.execute(threadRequest('echo', { params: { i } }), recordingHooks())));
    const hanging = executor.execute(threadRequest('hang'), recordingHooks());
    await sleep(50);
    assert.ok(executor.threadCount() >= 1);
    await executor.close();
    const outcome = await hanging;
    assertFailed(outcome);
    assert.equal(outcome.aborted, true);
    assert.equal(executor.threadCount(), 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(process.getActiveResourcesInfo().sort(), baseline);
  });
});
