import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { changeover } from '../../host/scheduler/changeover.js';

const NOW = Date.parse('2026-06-01T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

describe('changeover: where a job on the schedule stands on its new schedule', () => {
  test('a longer interval counts from the last fire handed over, even one still ahead', () => {
    const moved = changeover({ type: 'INTERVAL', everyMs: 2_000 }, new Date(NOW - 60_000), NOW + 300, NOW);
    assert.deepEqual(moved, { state: 'ACTIVE', anchorAt: new Date(NOW + 300), afterMs: NOW + 300 });
  });

  test('a shorter interval whose period has passed since the last fire fires at once', () => {
    const moved = changeover({ type: 'INTERVAL', everyMs: 1_000 }, new Date(NOW - 60_000), NOW - 1_500, NOW);
    assert.deepEqual(moved, { state: 'ACTIVE', anchorAt: new Date(NOW), afterMs: NOW - 1 });
  });

  test('a job that has not fired counts from its start, or from now when it was waiting for a startAt', () => {
    assert.equal(changeover({ type: 'INTERVAL', everyMs: 5_000 }, new Date(NOW - 2_000), null, NOW).anchorAt?.getTime(), NOW - 2_000);
    assert.equal(changeover({ type: 'INTERVAL', everyMs: 5_000 }, new Date(NOW + 9_000), null, NOW).anchorAt?.getTime(), NOW);
  });

  test('cron fires after the change and after the last fire handed over', () => {
    assert.equal(changeover({ type: 'CRON', cron: '* * * * * *' }, null, NOW + 200, NOW).afterMs, NOW + 200);
    assert.equal(changeover({ type: 'CRON', cron: '* * * * * *' }, null, NOW - 800, NOW).afterMs, NOW);
  });

  test('a startAt ahead makes the job PENDING, and MANUAL without one stops it', () => {
    const startAt = NOW + 10_000;
    for (const schedule of [{ type: 'INTERVAL', everyMs: 1_000, startAt: iso(startAt) }, { type: 'MANUAL', startAt: iso(startAt) }] as const) {
      assert.deepEqual(changeover(schedule, new Date(NOW - 1), NOW - 1, NOW), { state: 'PENDING', anchorAt: new Date(startAt), afterMs: NOW });
    }
    assert.equal(changeover({ type: 'MANUAL', startAt: iso(NOW - 1) }, null, null, NOW).state, 'STOPPED');
    assert.equal(changeover({ type: 'MANUAL' }, null, null, NOW).state, 'STOPPED');
  });
});
