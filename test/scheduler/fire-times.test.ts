import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Schedule } from '@jobcenter/job-api';
import { CronCache, fireTimesBetween, nextFireTime, previewFireTimes } from '../../host/scheduler/schedule.js';

const d = (iso: string): Date => new Date(iso);
const isos = (dates: Date[]): string[] => dates.map((x) => x.toISOString());

/** The three ways of asking must give the same fire times over (from, until]. */
function assertAgree(schedule: Schedule, anchorAt: Date | null, from: Date, until: Date): string[] {
  const between = isos(fireTimesBetween(schedule, anchorAt, from, until, 1000));
  const chained: string[] = [];
  for (let next = nextFireTime(schedule, anchorAt, from); next && next <= until; next = nextFireTime(schedule, anchorAt, next)) {
    chained.push(next.toISOString());
  }
  const preview = isos(previewFireTimes(schedule, anchorAt, from, between.length + 1)).filter((t) => t <= until.toISOString());
  assert.deepEqual(chained, between);
  assert.deepEqual(preview, between);
  return between;
}

describe('nextFireTime for cron schedules', () => {
  test('a six-field expression fires on its seconds, strictly after the instant asked about', () => {
    const s: Schedule = { type: 'CRON', cron: '*/15 * * * * *' };
    assert.equal(nextFireTime(s, null, d('2026-06-01T10:00:07.500Z'))?.toISOString(), '2026-06-01T10:00:15.000Z');
    assert.equal(nextFireTime(s, null, d('2026-06-01T10:00:15.000Z'))?.toISOString(), '2026-06-01T10:00:30.000Z');
  });

  test('an expression is read in its time zone', () => {
    const s: Schedule = { type: 'CRON', cron: '0 0 9 * * *', timezone: 'Asia/Shanghai' };
    assert.equal(nextFireTime(s, null, d('2026-06-01T00:00:00Z'))?.toISOString(), '2026-06-01T01:00:00.000Z');
    assert.equal(nextFireTime(s, null, d('2026-06-01T01:00:00Z'))?.toISOString(), '2026-06-02T01:00:00.000Z');
  });

  test('02:30 in Berlin on the spring-forward day fires once, at 03:00 CEST, and all three ways agree', () => {
    const s: Schedule = { type: 'CRON', cron: '0 30 2 * * *', timezone: 'Europe/Berlin' };
    const fires = assertAgree(s, null, d('2026-03-27T12:00:00Z'), d('2026-03-30T12:00:00Z'));
    assert.deepEqual(fires, ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  test('02:30 in Berlin on the fall-back day fires once, at its first occurrence, and all three ways agree', () => {
    const s: Schedule = { type: 'CRON', cron: '0 30 2 * * *', timezone: 'Europe/Berlin' };
    const fires = assertAgree(s, null, d('2026-10-24T12:00:00Z'), d('2026-10-26T12:00:00Z'));
    assert.deepEqual(fires, ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    assert.equal(nextFireTime(s, null, d('2026-10-25T00:30:00Z'))?.toISOString(), '2026-10-26T01:30:00.000Z');
    // Asked between the two 02:30s (02:45 CEST), it does not fire at the second one either.
    assert.equal(nextFireTime(s, null, d('2026-10-25T00:45:00Z'))?.toISOString(), '2026-10-26T01:30:00.000Z');
  });

  test('an expression with a step skips the missing hour and fires in both repeated hours', () => {
    const s: Schedule = { type: 'CRON', cron: '0 */30 2 * * *', timezone: 'Europe/Berlin' };
    const spring = assertAgree(s, null, d('2026-03-28T12:00:00Z'), d('2026-03-30T12:00:00Z'));
    assert.deepEqual(spring, ['2026-03-30T00:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    const autumn = assertAgree(s, null, d('2026-10-24T12:00:00Z'), d('2026-10-25T12:00:00Z'));
    assert.deepEqual(autumn, ['2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z']);
  });

  test('a cron schedule fires nothing before startAt, fires at startAt itself and stops after endAt', () => {
    const s: Schedule = { type: 'CRON', cron: '0 * * * * *', startAt: '2026-06-01T10:00:00.000Z', endAt: '2026-06-01T10:03:00.000Z' };
    const fires = assertAgree(s, null, d('2026-06-01T09:00:00Z'), d('2026-06-01T11:00:00Z'));
    assert.deepEqual(fires, ['2026-06-01T10:00:00.000Z', '2026-06-01T10:01:00.000Z', '2026-06-01T10:02:00.000Z', '2026-06-01T10:03:00.000Z']);
    assert.equal(nextFireTime(s, null, d('2026-06-01T10:03:00Z')), null);
    const late: Schedule = { type: 'CRON', cron: '0 * * * * *', startAt: '2026-06-01T10:00:30.000Z' };
    assert.equal(nextFireTime(late, null, d('2026-06-01T09:00:00Z'))?.toISOString(), '2026-06-01T10:01:00.000Z');
  });

  test('fireTimesBetween stops at its limit and a manual schedule never fires', () => {
    const s: Schedule = { type: 'CRON', cron: '* * * * * *' };
    assert.equal(fireTimesBetween(s, null, d('2026-06-01T10:00:00Z'), d('2026-06-01T11:00:00Z'), 5).length, 5);
    const manual: Schedule = { type: 'MANUAL' };
    assert.equal(nextFireTime(manual, null, d('2026-06-01T10:00:00Z')), null);
    assert.deepEqual(previewFireTimes(manual, null, d('2026-06-01T10:00:00Z'), 3), []);
  });

  test('a manual schedule with a startAt fires once, at startAt, inside its window', () => {
    const manual: Schedule = { type: 'MANUAL', startAt: '2026-06-01T10:00:05.000Z' };
    assert.deepEqual(isos(previewFireTimes(manual, null, d('2026-06-01T10:00:00Z'), 3)), ['2026-06-01T10:00:05.000Z']);
    assert.equal(nextFireTime(manual, null, d('2026-06-01T10:00:05Z')), null);
    assert.equal(nextFireTime({ ...manual, endAt: '2026-06-01T10:00:04.000Z' }, null, d('2026-06-01T10:00:00Z')), null);
  });
});

describe('nextFireTime for interval schedules', () => {
  test('fires fall on anchorAt plus whole intervals, so a restart keeps the phase', () => {
    const s: Schedule = { type: 'INTERVAL', everyMs: 7000 };
    const anchorAt = d('2026-06-01T10:00:00.000Z');
    const beforeCrash = previewFireTimes(s, anchorAt, anchorAt, 3);
    assert.deepEqual(isos(beforeCrash), ['2026-06-01T10:00:07.000Z', '2026-06-01T10:00:14.000Z', '2026-06-01T10:00:21.000Z']);
    // The host restarts at 10:05:03.250 and reschedules from the anchor it stored.
    const afterRestart = nextFireTime(s, anchorAt, d('2026-06-01T10:05:03.250Z'));
    assert.equal(afterRestart?.toISOString(), '2026-06-01T10:05:08.000Z');
    const missed = fireTimesBetween(s, anchorAt, d('2026-06-01T10:00:21.000Z'), d('2026-06-01T10:00:50.000Z'), 100);
    assert.deepEqual(isos(missed), ['2026-06-01T10:00:28.000Z', '2026-06-01T10:00:35.000Z', '2026-06-01T10:00:42.000Z', '2026-06-01T10:00:49.000Z']);
  });

  test('without an anchor the phase comes from startAt, and nothing fires before it', () => {
    const s: Schedule = { type: 'INTERVAL', everyMs: 60_000, startAt: '2026-06-01T10:00:10.000Z', endAt: '2026-06-01T10:02:10.000Z' };
    const fires = assertAgree(s, null, d('2026-06-01T09:00:00Z'), d('2026-06-01T11:00:00Z'));
    assert.deepEqual(fires, ['2026-06-01T10:00:10.000Z', '2026-06-01T10:01:10.000Z', '2026-06-01T10:02:10.000Z']);
  });

  test('without anchor or startAt fires fall on multiples of everyMs since the epoch', () => {
    const s: Schedule = { type: 'INTERVAL', everyMs: 5000 };
    assert.equal(nextFireTime(s, null, d('2026-06-01T10:00:03.000Z'))?.toISOString(), '2026-06-01T10:00:05.000Z');
  });
});

describe('CronCache', () => {
  test('each distinct expression and zone is parsed once and the least recently used is evicted', () => {
    const cache = new CronCache(2);
    const a = cache.get('* * * * * *', undefined);
    assert.equal(cache.get('* * * * * *', undefined), a);
    cache.get('* * * * * *', 'Europe/Berlin');
    cache.get('0 * * * * *', undefined);
    assert.equal(cache.size, 2);
    assert.notEqual(cache.get('* * * * * *', undefined), a);
    assert.equal(a.nextAfter(Date.parse('2026-06-01T10:00:00Z')), Date.parse('2026-06-01T10:00:01Z'));
  });
});
