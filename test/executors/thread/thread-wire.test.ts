import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheItemJson, logItemJson, resultItemJson } from '../../../host/executors/thread/thread-wire.js';
import { readTaskResult } from '../../../host/executors/shared/wire-read.js';
import { readPoolWorkerItem, readPoolWorkerMessage } from '../../../host/executors/thread/thread-read.js';
import { startItem } from '../../../host/executors/thread/thread-handle.js';
import { runOf } from '../../../host/executors/thread/thread-worker-run.js';
import type { ThreadTarget } from '../../../host/executors/thread/thread-protocol.js';
import type { ThreadRun } from '../../../host/executors/shared/run-protocol.js';

const runId = '0190a0b0-0000-7000-8000-000000000001';

describe('the pool worker items as JSON text, and how the host reads them', () => {
  test('every item the worker writes reads back as the object it stands for', () => {
    const items: [string, unknown][] = [
      [logItemJson(runId, 'warn', 'a "quoted"\nline ✓'), { type: 'log', runId, level: 'warn', message: 'a "quoted"\nline ✓' }],
      [cacheItemJson(runId, 7, { op: 'get', key: 'k' }), { type: 'cache', runId, id: 7, request: { op: 'get', key: 'k' } }],
      [cacheItemJson(runId, 8, { op: 'set', key: 'k', value: { at: new Date(0), list: [1, null] }, ttlMs: 500 }),
        { type: 'cache', runId, id: 8, request: { op: 'set', key: 'k', value: { at: '1970-01-01T00:00:00.000Z', list: [1, null] }, ttlMs: 500 } }],
      [cacheItemJson(runId, 9, { op: 'set', key: 'k', value: undefined }), { type: 'cache', runId, id: 9, request: { op: 'set', key: 'k' } }],
      [resultItemJson(runId, { ok: true, result: null }, undefined), { type: 'result', runId, result: { ok: true, result: null } }],
      [resultItemJson(runId, { ok: true, result: 'done', specs: [{ name: 'a', entry: 'x', schedule: { type: 'MANUAL' } }] }, 12),
        { type: 'result', runId, result: { ok: true, result: 'done', specs: [{ name: 'a', entry: 'x', schedule: { type: 'MANUAL' } }] }, startedAt: 12 }],
      [resultItemJson(runId, { ok: false, error: { name: 'TypeError', message: 'no', stack: 'at x', code: 'E' } }, 3),
        { type: 'result', runId, result: { ok: false, error: { name: 'TypeError', message: 'no', stack: 'at x', code: 'E' } }, startedAt: 3 }],
    ];
    const read = readPoolWorkerMessage({ type: 'batch', json: `[${items.map(([json]) => json).join(',')}]` });
    assert.ok(typeof read !== 'string' && read.type === 'batch');
    assert.deepEqual(read.items.map(readPoolWorkerItem), items.map(([, expected]) => expected));
  });

  test('a cache value JSON cannot carry fails when its item is written', () => {
    assert.throws(() => cacheItemJson(runId, 1, { op: 'set', key: 'k', value: 10n }), TypeError);
  });

  test('a message or batch that cannot be read says why', () => {
    assert.equal(readPoolWorkerMessage(null), 'the message is not an object');
    assert.equal(readPoolWorkerMessage({ type: 'batch', json: 'null' }), 'the batch is not a list of items');
    assert.equal(readPoolWorkerMessage({ type: 'batch', json: '[{' }), 'the batch is not JSON');
    assert.deepEqual(readPoolWorkerMessage({ type: 'ready' }), { type: 'ready' });
  });

  test('an unreadable item names its run when it can, so only that run fails', () => {
    assert.deepEqual(readPoolWorkerItem('x'), { type: 'unreadable', runId: null, why: 'an item is not an object' });
    assert.deepEqual(readPoolWorkerItem({ type: 'result', result: { ok: true, result: 'r' } }), { type: 'unreadable', runId: null, why: 'an item names no run' });
    assert.deepEqual(readPoolWorkerItem({ type: 'result', runId, result: { ok: true, result: 5 } }), { type: 'unreadable', runId, why: 'the result is neither text nor null' });
    assert.deepEqual(readPoolWorkerItem({ type: 'log', runId, level: 'loud', message: 'm' }), { type: 'unreadable', runId, why: 'a log item without a level and text' });
    assert.deepEqual(readPoolWorkerItem({ type: 'cache', runId, id: 1, request: { op: 'get', key: 5 } }), { type: 'unreadable', runId, why: 'a cache request without an operation and a text key' });
    assert.deepEqual(readPoolWorkerItem({ type: 'shout', runId }), { type: 'unreadable', runId, why: 'an item of no known type' });
  });

  test('a result is read only with text where text belongs', () => {
    assert.equal(readTaskResult({ ok: false, error: { name: 'E', message: { text: 'no' } } }), 'the error has no text name and message');
    assert.equal(readTaskResult({ ok: true, result: 'r', specs: 'all' }), "the resolver's job specs are not a list");
    assert.equal(readTaskResult({ ok: 'yes' }), 'the result says neither ok nor failed');
  });
});

describe("a run's start item as the host writes it", () => {
  const base = {
    runId,
    job: { id: 4, name: 'noop', project: 'p' },
    mainUrl: 'file:///bundles/1/index.js',
    entry: 'noop',
    params: null as unknown,
    config: { 'db.url': 'x' } as Record<string, string>,
    scheduledAt: 1_700_000_000_123,
    attempt: 1,
    fencingToken: 'h:4',
    resultMaxChars: 4000,
    logMaxBytes: 1024,
  };
  /** What the item was before its shared part was kept: JSON.stringify of the whole item. */
  const plain = (run: ThreadRun) => JSON.parse(JSON.stringify({ type: 'start', run }));
  /** The start item as a worker reads it: parsed, and its run made whole from the target item sent before it. */
  const startItemJson = (run: ThreadRun) => {
    const made = startItem(run);
    const item = JSON.parse(made.json);
    const targets = new Map<number, ThreadTarget>();
    if (made.target) {
      const sent = JSON.parse(made.target.json);
      assert.equal(sent.type, 'target');
      targets.set(sent.id, sent.target);
    }
    const whole = runOf(item.run, targets);
    assert.ok(whole, 'the worker holds the target the item names');
    // JSON.stringify leaves out what is undefined; the worker's run has every key.
    return JSON.stringify({ ...item, run: whole });
  };

  test('reads back as the whole item, for every form of params and times, each run its own', () => {
    const runs = [
      base,
      { ...base, runId: '0190a0b0-0000-7000-8000-000000000002', params: { n: 1, list: ['a'] }, attempt: 2 },
      { ...base, params: undefined },
      { ...base, params: () => 1 },
      { ...base, params: 'text "quoted"' },
      { ...base, notBefore: 1_700_000_000_500 },
      { ...base, scheduledAt: Number.NaN },
    ];
    for (const run of runs) assert.deepEqual(JSON.parse(startItemJson(run)), plain(run));
  });

  test('a run of the same config object with another job, bundle or limit is written with its own', () => {
    const config = { a: '1' };
    const first = { ...base, config };
    assert.deepEqual(JSON.parse(startItemJson(first)), plain(first));
    for (const other of [
      { ...first, job: { ...first.job, name: 'renamed' } },
      { ...first, mainUrl: 'file:///bundles/2/index.js' },
      { ...first, entry: 'other' },
      { ...first, fencingToken: 'h2:4' },
      { ...first, resultMaxChars: 10 },
      { ...first, logMaxBytes: 10 },
    ]) {
      assert.deepEqual(JSON.parse(startItemJson(other)), plain(other));
    }
  });

  test('the runs of one target name one target item; a worker that does not hold it gets no run', () => {
    const config = { k: 'v' };
    const a = startItem({ ...base, config });
    const b = startItem({ ...base, config, runId: '0190a0b0-0000-7000-8000-000000000009' });
    assert.ok(a.target && a.target === b.target);
    assert.ok(a.json.length < 200, `a start item carries the run's own fields only (${a.json.length} chars)`);
    assert.equal(runOf(JSON.parse(a.json).run, new Map()), null);
  });

  test('params JSON cannot carry throw, as JSON.stringify does', () => {
    assert.throws(() => startItem({ ...base, params: { big: 1n } }), TypeError);
  });
});
