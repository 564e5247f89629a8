import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Schedule } from '@jobcenter/job-api';
import { silentLogger, type Logger } from '../../host/log/logger.js';
import { Scheduler, type SchedulerFire } from '../../host/scheduler/scheduler.js';
import { eventually } from '../helpers/host.js';

const T0 = Date.parse('2026-06-01T10:00:00.000Z');
const EVERY_SECOND: Schedule = { type: 'CRON', cron: '* * * * * *' };

interface Harness {
  scheduler: Scheduler;
  batches: SchedulerFire[][];
  ended: number[];
  warnings: string[];
  errors: string[];
  /** Moves the fake clock and the mocked timers forward together. */
  advance(ms: number): void;
  /** Moves only the clock: a wake that comes late. */
  skewClock(ms: number): void;
}

function harness(t: TestContext, onFire?: (fires: SchedulerFire[]) => void): Harness {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let clock = T0;
  const h: Omit<Harness, 'scheduler'> = {
    batches: [],
    ended: [],
    warnings: [],
    errors: [],
    advance(ms) {
      clock += ms;
      t.mock.timers.tick(ms);
    },
    skewClock(ms) {
      clock += ms;
    },
  };
  const logger: Logger = {
    ...silentLogger,
    warn: (message) => h.warnings.push(message),
    error: (message) => h.errors.push(message),
  };
  const scheduler = new Scheduler({
    logger,
    now: () => clock,
    onFire: (fires) => {
      h.batches.push(fires);
      onFire?.(fires);
    },
    onEnd: (jobId) => h.ended.push(jobId),
  });
  t.after(() => scheduler.stop());
  return { ...h, scheduler };
}

const view = (batches: SchedulerFire[][]): string[][] =>
  batches.map((b) => b.map((f) => `${f.jobId}@${(f.fireAt.getTime() - T0) / 1000}`));

describe('Scheduler with a fake clock', () => {
  test('due jobs fire in one batch per wake, at their own times, and a job past endAt ends', (t) => {
    const h = harness(t);
    h.scheduler.add(1, EVERY_SECOND, null);
    h.scheduler.add(2, { type: 'INTERVAL', everyMs: 2000 }, new Date(T0));
    h.scheduler.add(3, { ...EVERY_SECOND, endAt: new Date(T0 + 2000).toISOString() }, null);
    h.scheduler.start();
    for (let i = 0; i < 4; i++) h.advance(1000);
    assert.deepEqual(view(h.batches), [['1@1', '3@1'], ['1@2', '2@2', '3@2'], ['1@3'], ['1@4', '2@4']]);
    assert.deepEqual(h.ended, [3]);
    assert.equal(h.scheduler.has(3), false);
    assert.equal(h.scheduler.size, 2);
    assert.equal(h.scheduler.nextFireOf(2)?.getTime(), T0 + 6000);
  });

  test('a late wake delivers the few overdue fires once each, in the same batch', (t) => {
    const h = harness(t);
    h.scheduler.add(1, EVERY_SECOND, null);
    h.scheduler.start();
    h.skewClock(2500);
    h.advance(1000);
    assert.deepEqual(view(h.batches), [['1@1', '1@2', '1@3']]);
    assert.equal(h.scheduler.nextFireOf(1)?.getTime(), T0 + 4000);
    assert.deepEqual(h.warnings, []);
  });

  test('a job many fires behind misfires: its due fire is delivered once and it skips ahead of now', (t) => {
    const h = harness(t);
    h.scheduler.add(1, EVERY_SECOND, null);
    h.scheduler.start();
    h.skewClock(10_000);
    h.advance(1000);
    assert.deepEqual(view(h.batches), [['1@1']]);
    assert.equal(h.scheduler.nextFireOf(1)?.getTime(), T0 + 12_000);
    assert.equal(h.warnings.length, 1);
    assert.match(h.warnings[0] ?? '', /misfire/);
  });

  test('a timer that fires early re-arms instead of firing', (t) => {
    const h = harness(t);
    h.scheduler.add(1, EVERY_SECOND, null);
    h.scheduler.start();
    h.skewClock(-5);
    h.advance(1000);
    assert.equal(h.batches.length, 0);
    h.advance(5);
    assert.deepEqual(view(h.batches), [['1@1']]);
  });

  test('a fire time beyond the longest timer waits through re-armed timers', (t) => {
    const h = harness(t);
    const in40Days = new Date(T0 + 40 * 86_400_000).toISOString();
    h.scheduler.add(1, { type: 'INTERVAL', everyMs: 1000, startAt: in40Days }, null);
    h.scheduler.start();
    h.advance(2 ** 31 - 1);
    assert.equal(h.batches.length, 0);
    h.advance(40 * 86_400_000 - (2 ** 31 - 1));
    assert.deepEqual(h.batches.map((b) => b.map((f) => f.fireAt.toISOString())), [[in40Days]]);
  });

  test('an onFire that throws is logged and the scheduler keeps firing', (t) => {
    const h = harness(t, () => {
      throw new Error('boom');
    });
    h.scheduler.add(1, EVERY_SECOND, null);
    h.scheduler.start();
    h.advance(1000);
    h.advance(1000);
    assert.equal(h.batches.length, 2);
    assert.deepEqual(h.errors, ['onFire failed', 'onFire failed']);
  });

  test('add replaces, remove takes off, stop clears the timer and start resumes', (t) => {
    const h = harness(t);
    h.scheduler.add(1, EVERY_SECOND, null);
    h.scheduler.add(1, { type: 'INTERVAL', everyMs: 5000 }, new Date(T0));
    assert.equal(h.scheduler.size, 1);
    assert.equal(h.scheduler.nextFireOf(1)?.getTime(), T0 + 5000);
    h.scheduler.add(2, EVERY_SECOND, null, new Date(T0 + 60_000));
    assert.equal(h.scheduler.nextFireOf(2)?.getTime(), T0 + 61_000);
    assert.equal(h.scheduler.remove(2), true);
    assert.equal(h.scheduler.remove(2), false);
    assert.equal(h.scheduler.nextFireOf(2), null);
    h.scheduler.start();
    h.scheduler.stop();
    h.scheduler.stop();
    h.advance(6000);
    assert.equal(h.batches.length, 0);
    h.scheduler.start();
    h.scheduler.start();
    h.advance(0);
    assert.deepEqual(view(h.batches), [['1@5']]);
  });

  test('adding a schedule whose window has closed ends it at once; a manual schedule is just not scheduled', (t) => {
    const h = harness(t);
    h.scheduler.add(1, { ...EVERY_SECOND, endAt: new Date(T0 - 1000).toISOString() }, null);
    h.scheduler.add(2, { type: 'MANUAL' }, null);
    assert.deepEqual(h.ended, [1]);
    assert.equal(h.scheduler.size, 0);
  });
});

describe('Scheduler on real timers', () => {
  test('1,000 every-second jobs fire in one batch per second with no duplicate and no missing fire', async (t) => {
    const batches: SchedulerFire[][] = [];
    const ended: number[] = [];
    const scheduler = new Scheduler({ logger: silentLogger, onFire: (fires) => batches.push(fires), onEnd: (id) => ended.push(id) });
    t.after(() => scheduler.stop());
    const start = new Date();
    for (let jobId = 1; jobId <= 1000; jobId++) scheduler.add(jobId, EVERY_SECOND, null, start);
    const endAt = new Date(Math.floor(start.getTime() / 1000) * 1000 + 2000);
    scheduler.add(5000, { ...EVERY_SECOND, endAt: endAt.toISOString() }, null, start);
    scheduler.start();
    await eventually('two batches and the end of the job with an endAt', async () => (batches.length >= 2 && ended.length > 0 ? true : undefined));
    scheduler.stop();

    assert.ok(batches.length >= 2, `expected at least 2 batches, got ${batches.length}`);
    const seen = new Set<string>();
    for (const batch of batches) {
      const times = new Set(batch.map((f) => f.fireAt.getTime()));
      assert.equal(times.size, 1, 'one batch holds one fire time');
      const fireAt = [...times][0] as number;
      assert.equal(fireAt % 1000, 0);
      const jobs = new Set(batch.filter((f) => f.jobId <= 1000).map((f) => f.jobId));
      assert.equal(jobs.size, 1000, 'every job is in every batch');
      for (const f of batch) {
        const key = `${f.jobId}@${f.fireAt.getTime()}`;
        assert.ok(!seen.has(key), `duplicate fire ${key}`);
        seen.add(key);
      }
    }
    const fireTimes = batches.map((b) => b[0]?.fireAt.getTime() ?? 0);
    for (let i = 1; i < fireTimes.length; i++) assert.equal((fireTimes[i] ?? 0) - (fireTimes[i - 1] ?? 0), 1000);
    assert.deepEqual(ended, [5000]);
    assert.equal(scheduler.has(5000), false);
  });
});
