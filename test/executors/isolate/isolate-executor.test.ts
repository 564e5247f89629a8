import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { RunOutcome, RunRequest } from '../../../host/executors/shared/executor.js';
import { createIsolateExecutor, type IsolateExecutor } from '../../../host/executors/isolate/isolate-executor.js';
import { silentLogger } from '../../../host/log/logger.js';
import { recordingHooks, testConfig, threadRequest } from '../helpers.js';

function isolateFixtureDir(): string {
  const near = fileURLToPath(new URL('../../fixtures/isolate', import.meta.url));
  return existsSync(near) ? near : fileURLToPath(new URL('../../../../test/fixtures/isolate', import.meta.url));
}

function isolateRequest(entry: string, overrides: Partial<RunRequest> = {}): RunRequest {
  return threadRequest(entry, { kind: 'isolate', bundle: { id: 1, dir: isolateFixtureDir(), main: 'jobs.js' }, ...overrides });
}

function assertFailed(outcome: RunOutcome): asserts outcome is Extract<RunOutcome, { ok: false }> {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`);
}

function resultOf(outcome: RunOutcome): string | null {
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  return (outcome as { result: string | null }).result;
}

describe('isolate executor', () => {
  let executor: IsolateExecutor;
  before(() => {
    executor = createIsolateExecutor({ config: testConfig(), logger: silentLogger });
  });
  after(async () => {
    await executor.close();
  });

  async function assertHealthy(): Promise<void> {
    assert.equal(resultOf(await executor.execute(isolateRequest('plain'), recordingHooks())), 'plain result');
  }

  test('a class job is built per run and a resolver returns its specs', async () => {
    assert.equal(resultOf(await executor.execute(isolateRequest('Counter'), recordingHooks())), '1');
    assert.equal(resultOf(await executor.execute(isolateRequest('Counter'), recordingHooks())), '1');
    const outcome = await executor.execute(isolateRequest('resolver', { params: { n: 3 } }), recordingHooks());
    assert.deepEqual(outcome.ok && outcome.specs, [{ name: 'sub-3', entry: 'plain' }]);
  });

  test('an export that is not a job fails with a message naming it', async () => {
    const notAJob = await executor.execute(isolateRequest('notAJob'), recordingHooks());
    assertFailed(notAJob);
    assert.match(notAJob.error.message, /export "notAJob"/);
    await assertHealthy();
  });

  test('a job cannot reach require, process, the host realm or an isolated-vm object', async () => {
    const probe = JSON.parse(resultOf(await executor.execute(isolateRequest('probe'), recordingHooks())) ?? 'null');
    assert.equal(probe.require, 'undefined');
    assert.equal(probe.process, 'undefined');
    assert.equal(probe.Buffer, 'undefined');
    assert.equal(probe.fetch, 'undefined');
    assert.equal(probe.viaConstructor, 'threw ReferenceError');
    for (const name of ['require', 'process', 'Buffer', 'fetch', 'global', 'module', 'exports', '__jobcenterMain']) {
      assert.ok(!probe.names.includes(name), `global ${name} is visible`);
    }
    assert.deepEqual(JSON.parse(resultOf(await executor.execute(isolateRequest('hunt'), recordingHooks())) ?? 'null'), []);
  });

  test('a job cannot read a file or the environment', async () => {
    const tries = JSON.parse(resultOf(await executor.execute(isolateRequest('reader'), recordingHooks())) ?? 'null');
    assert.match(tries.import, /^refused/);
    assert.equal(tries.env, 'refused: ReferenceError');
    assert.equal(tries.readFile, 'refused: ReferenceError');
  });

  test('a global set by one job is seen neither by another job nor by its own next run', async () => {
    assert.equal(resultOf(await executor.execute(isolateRequest('setGlobal', { params: { value: 'A-secret' } }), recordingHooks())), 'undefined');
    assert.equal(resultOf(await executor.execute(isolateRequest('readGlobal'), recordingHooks())), 'undefined');
    assert.equal(resultOf(await executor.execute(isolateRequest('setGlobal', { params: { value: 'again' } }), recordingHooks())), 'undefined');
    const otherJob = { id: 8, name: 'other', project: 'demo', projectId: 1 };
    assert.equal(resultOf(await executor.execute(isolateRequest('readGlobal', { job: otherJob }), recordingHooks())), 'undefined');
  });

  test('timers fire and repeat, and timers a job leaves behind are cleared when its run ends', async () => {
    const timersBefore = countTimers();
    assert.equal(resultOf(await executor.execute(isolateRequest('sleeper', { params: { ms: 20 } }), recordingHooks())), 'slept 3');
    assert.equal(resultOf(await executor.execute(isolateRequest('leaveTimer'), recordingHooks())), 'left');
    assert.equal(countTimers(), timersBefore);
  });

  test('a memory bomb set off from a timer fails its run naming the memory limit, its peak is read, and the next run works', async () => {
    const outcome = await executor.execute(isolateRequest('memoryBombLater', { memoryLimitMb: 16 }), recordingHooks());
    assertFailed(outcome);
    assert.equal(outcome.aborted, false);
    assert.match(outcome.error.message, /memory limit of 16 MB/);
    assert.ok(outcome.peakMemoryMb! >= 16, `peakMemoryMb ${outcome.peakMemoryMb} reached the limit`);
    assert.equal(resultOf(await executor.execute(isolateRequest('plain', { memoryLimitMb: 16 }), recordingHooks())), 'plain result');
  });

  test('an infinite loop fails its run on the CPU limit, also from a timer, and the next run works', async () => {
    for (const entry of ['spin', 'spinLater']) {
      const started = Date.now();
      const outcome = await executor.execute(isolateRequest(entry, { timeoutMs: 300 }), recordingHooks());
      assertFailed(outcome);
      assert.match(outcome.error.message, /CPU time limit of 300 ms/);
      assert.ok(outcome.cpuMs! >= 300 && outcome.peakMemoryMb! > 0, `the CPU it burnt is read before its isolate goes: ${JSON.stringify(outcome)}`);
      assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
      await assertHealthy();
    }
  });

  test('what a job that ignores its abort used is read before its isolate is disposed after the kill grace', async () => {
    const hooks = recordingHooks();
    const started = Date.now();
    const running = executor.execute(isolateRequest('hang'), hooks);
    setTimeout(() => hooks.controller.abort('timeout'), 50);
    const outcome = await running;
    assertFailed(outcome);
    assert.equal(outcome.aborted, true);
    assert.match(outcome.error.message, /did not stop within 300 ms after abort \(timeout\); its isolate was disposed/);
    assert.ok(outcome.cpuMs! >= 0 && outcome.peakMemoryMb! > 0, `what it used is read before its isolate goes: ${JSON.stringify(outcome)}`);
    assert.ok(Date.now() - started < 2_000);
    await assertHealthy();
  });

  test('fetch is absent without a grant, refused outside its grant and performed by the host within it', async (t) => {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, header: req.headers['x-test'], body }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo`;
    const run = async (grants: RunRequest['grants']) => resultOf(await executor.execute(isolateRequest('fetcher', { params: { url }, grants }), recordingHooks()));
    assert.equal(await run(undefined), 'no fetch');
    assert.equal(await run({ fetch: false }), 'no fetch');
    assert.match(String(await run({ fetch: ['example.com'] })), /^refused: fetch: host 127\.0\.0\.1:\d+ is not in this job's fetch grant/);
    const expected = { status: 200, ok: true, type: 'application/json', body: { method: 'POST', header: '1', body: 'ping' } };
    assert.deepEqual(JSON.parse(String(await run({ fetch: ['127.0.0.1'] }))), expected);
    assert.deepEqual(JSON.parse(String(await run({ fetch: true }))), expected);
  });

  test('a new bundle version retires the isolates of the old one', async () => {
    await executor.execute(isolateRequest('plain', { job: { id: 9, name: 'p', project: 'other', projectId: 2 } }), recordingHooks());
    const before = executor.isolateCount();
    const v2 = { id: 2, dir: isolateFixtureDir(), main: 'jobs.js' };
    await executor.execute(isolateRequest('plain', { bundle: v2, job: { id: 9, name: 'p', project: 'other', projectId: 2 } }), recordingHooks());
    assert.equal(executor.isolateCount(), before);
    await executor.retire(2, null);
    assert.equal(executor.isolateCount(), before - 1);
  });
});

describe('isolate executor over many runs', () => {
  let executor: IsolateExecutor;
  before(() => {
    executor = createIsolateExecutor({ config: testConfig(), logger: silentLogger, options: { maxRunsPerIsolate: Infinity, maxIdlePerKey: 1 } });
  });
  after(async () => {
    await executor.close();
  });

  test('10,000 runs in a row on one 16 MB isolate succeed and leave its heap where it was', async (t) => {
    const request = isolateRequest('empty', { memoryLimitMb: 16 });
    await executor.execute(request, recordingHooks());
    const heapBefore = executor.heapUsed();
    assert.equal(heapBefore.length, 1);
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) {
      const outcome = await executor.execute(request, recordingHooks());
      if (!outcome.ok) assert.fail(`run ${i} failed: ${JSON.stringify(outcome)}`);
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const heapAfter = executor.heapUsed();
    assert.equal(heapAfter.length, 1, 'the isolate was replaced: it died on the way');
    t.diagnostic(`10,000 isolate runs in ${ms.toFixed(0)} ms = ${((10_000 / ms) * 1000).toFixed(0)} runs/s; heap ${mb(heapBefore[0])} → ${mb(heapAfter[0])} MB`);
    // used_heap_size counts garbage V8 has not collected yet; a leak would have killed the 16 MB isolate long ago.
    assert.ok(heapAfter[0]! < 12 * 1024 * 1024, `isolate heap grew to ${mb(heapAfter[0])} MB`);
  });
});

describe('isolate executor close', () => {
  test('close ends in-flight runs as aborted, disposes every isolate and leaves no timer behind', async () => {
    const timersBefore = countTimers();
    const executor = createIsolateExecutor({ config: testConfig(), logger: silentLogger });
    await executor.execute(isolateRequest('plain', { memoryLimitMb: 32 }), recordingHooks());
    const hanging = executor.execute(isolateRequest('hang'), recordingHooks());
    const sleeping = executor.execute(isolateRequest('sleeper', { params: { ms: 60_000 } }), recordingHooks());
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(executor.isolateCount(), 3);
    await executor.close();
    for (const outcome of [await hanging, await sleeping]) {
      assertFailed(outcome);
      assert.equal(outcome.aborted, true);
      assert.match(outcome.error.message, /closed/);
    }
    assert.equal(executor.isolateCount(), 0);
    assert.equal(countTimers(), timersBefore);
    const late = await executor.execute(isolateRequest('plain'), recordingHooks());
    assertFailed(late);
    assert.equal(late.aborted, true);
  });
});

function countTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

function mb(bytes: number | undefined): string {
  return ((bytes ?? 0) / 1024 / 1024).toFixed(2);
}
