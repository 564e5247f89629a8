/**
 * The spare context an idle isolate keeps for its next run: made and loaded before that run exists, it must still
 * be a context of its own (no globals of the run before), serve one run only, and show that run what the main did
 * while loading.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunGate, RunOutcome, RunRequest } from '../../../host/executors/shared/executor.js';
import { createIsolateExecutor, type IsolateExecutor } from '../../../host/executors/isolate/isolate-executor.js';
import { silentLogger } from '../../../host/log/logger.js';
import { recordingHooks, testConfig, threadRequest } from '../helpers.js';

const MAIN = `"use strict";
const loadedAt = Date.now();
let loads = 0;
loads++;
console.log('main loaded');
setTimeout(() => console.log('load timer fired'), 1);
exports.leak = {
  async execute(ctx) {
    const seen = { global: String(globalThis.secret), proto: String(Object.prototype.leaked), mark: String(Array.prototype.mark) };
    globalThis.secret = ctx.runId;
    Object.prototype.leaked = ctx.runId;
    Array.prototype.mark = ctx.runId;
    await new Promise((resolve) => setTimeout(resolve, ctx.params.waitMs));
    return { seen, loadedAt, loads, runId: ctx.runId, still: globalThis.secret === ctx.runId };
  },
};
`;

interface LeakResult {
  seen: { global: string; proto: string; mark: string };
  loadedAt: number;
  loads: number;
  runId: string;
  still: boolean;
}

function resultOf(outcome: RunOutcome): LeakResult {
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  return JSON.parse((outcome as { result: string }).result) as LeakResult;
}

const untouched = { global: 'undefined', proto: 'undefined', mark: 'undefined' };

/** Dispatch's gate as the executor sees it: opened once, later callbacks run at once. */
class TestGate implements RunGate {
  private callbacks: Array<() => void> | null = [];
  onOpen(callback: () => void): void {
    if (this.callbacks) this.callbacks.push(callback);
    else callback();
  }
  open(): void {
    const callbacks = this.callbacks ?? [];
    this.callbacks = null;
    for (const callback of callbacks) callback();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('isolate spare contexts', () => {
  let executor: IsolateExecutor;
  let request: (waitMs: number) => RunRequest;

  before(() => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jc-spare-'));
    writeFileSync(path.join(dir, 'main.js'), MAIN);
    request = (waitMs) => threadRequest('leak', { kind: 'isolate', params: { waitMs }, bundle: { id: 1, dir, main: 'main.js' } });
    executor = createIsolateExecutor({ config: testConfig(), logger: silentLogger });
  });
  after(async () => {
    await executor.close();
  });

  test('two consecutive runs share no globals although the second takes a context loaded before it started', async () => {
    const first = resultOf(await executor.execute(request(0), recordingHooks()));
    assert.deepEqual(first.seen, untouched);
    // The spare is made when the first run ends; give it time to be ready so the second run surely takes it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const calledAt = Date.now();
    const hooks = recordingHooks();
    // 20 ms: long enough for the 1 ms timer the main armed at load to fire within the run.
    const second = resultOf(await executor.execute(request(20), hooks));
    assert.ok(second.loadedAt < calledAt, `the second run's context was loaded at ${second.loadedAt}, not before the run (${calledAt})`);
    assert.deepEqual(second.seen, untouched, 'the second run saw what the first left behind');
    assert.equal(second.loads, 1);
    assert.equal(second.still, true);
    assert.equal(executor.isolateCount(), 1);
    // What the main did while it loaded with no run bound reaches the run that took the context.
    assert.deepEqual(hooks.lines.map((l) => l.message), ['main loaded', 'load timer fired']);
  });

  test('runs at the same time each get a context of their own, and so do the runs after them', async () => {
    for (let round = 0; round < 3; round++) {
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => executor.execute(request(5), recordingHooks())));
      for (const result of outcomes.map(resultOf)) {
        assert.deepEqual(result.seen, untouched);
        assert.equal(result.still, true, `run ${result.runId} saw another run's global`);
        assert.equal(result.loads, 1);
      }
    }
  });

  test('with a gate the job starts only once it opens, and a run aborted before that never starts', async () => {
    const gate = new TestGate();
    const hooks = recordingHooks();
    const running = executor.execute(request(0), { ...hooks, gate });
    await sleep(30);
    assert.equal(hooks.startedAt, null, 'the job started before its gate opened');
    gate.open();
    assert.deepEqual(resultOf(await running).seen, untouched);
    assert.equal(typeof hooks.startedAt, 'number');

    const isolates = executor.isolateCount();
    const closedGate = new TestGate();
    const aborted = recordingHooks();
    const never = executor.execute(request(0), { ...aborted, gate: closedGate });
    await sleep(30);
    aborted.controller.abort('kill');
    closedGate.open();
    const outcome = await never;
    assert.equal(outcome.ok, false);
    assert.deepEqual(outcome.ok ? null : [outcome.aborted, outcome.error.message], [true, 'run aborted before it started: kill']);
    assert.equal(aborted.startedAt, null);
    assert.equal(executor.isolateCount(), isolates, 'an isolate was lost to a run that never started');
    assert.deepEqual(resultOf(await executor.execute(request(0), recordingHooks())).seen, untouched);
  });
});

describe('isolate runs back to back', () => {
  test('get a second isolate made in the background, never more, and each run still gets a context of its own', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jc-spare-'));
    writeFileSync(path.join(dir, 'main.js'), MAIN);
    const executor = createIsolateExecutor({ config: testConfig(), logger: silentLogger });
    try {
      const request = threadRequest('leak', { kind: 'isolate', params: { waitMs: 0 }, bundle: { id: 1, dir, main: 'main.js' } });
      const counts = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const result = resultOf(await executor.execute(request, recordingHooks()));
        assert.deepEqual(result.seen, untouched, `run ${i} saw what an earlier run left behind`);
        assert.equal(result.loads, 1);
        counts.add(executor.isolateCount());
      }
      // No pause between runs: the first run's isolate cannot have its next context ready, so a second one is made.
      assert.ok(counts.has(2), `isolates seen: ${[...counts].join(', ')}`);
      assert.ok(Math.max(...counts) <= 2, `more than two isolates for one job: ${[...counts].join(', ')}`);
    } finally {
      await executor.close();
    }
    assert.equal(executor.isolateCount(), 0);
  });
});
