import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateSchedule } from '../../host/scheduler/schedule.js';

const NOW = new Date('2026-06-01T00:00:00Z');

/** Asserts that validation fails with a BAD_REQUEST naming `field` and a message matching `pattern`. */
function rejects(input: unknown, field: string, pattern: RegExp): void {
  assert.throws(
    () => validateSchedule(input, NOW),
    (err: unknown) => {
      const e = err as { code?: string; message?: string; details?: { field?: string } };
      assert.equal(e.code, 'BAD_REQUEST');
      assert.equal(e.details?.field, field);
      assert.match(e.message ?? '', pattern);
      return true;
    },
  );
}

describe('validateSchedule', () => {
  test('a bad value in each cron field is refused with a message naming that field', () => {
    rejects({ type: 'CRON', cron: '61 * * * * *' }, 'schedule.cron', /^schedule\.cron: second: 61 is not valid \(allowed 0-59\)$/);
    rejects({ type: 'CRON', cron: '* 60 * * * *' }, 'schedule.cron', /minute: 60 is not valid \(allowed 0-59\)/);
    rejects({ type: 'CRON', cron: '* * 25 * * *' }, 'schedule.cron', /hour: 25 is not valid \(allowed 0-23\)/);
    rejects({ type: 'CRON', cron: '* * * 32 * *' }, 'schedule.cron', /dayOfMonth: 32 is not valid/);
    rejects({ type: 'CRON', cron: '* * * * 13 *' }, 'schedule.cron', /month: 13 is not valid \(allowed 1-12 or JAN-DEC\)/);
    rejects({ type: 'CRON', cron: '* * * * * 8' }, 'schedule.cron', /dayOfWeek: 8 is not valid \(allowed 0-7 or SUN-SAT\)/);
    rejects({ type: 'CRON', cron: '* * * * JAN-FOO *' }, 'schedule.cron', /month: JAN-FOO is not valid/);
    // croner's extensions (L, #) are fine; the error is blamed on the field croner rejects.
    rejects({ type: 'CRON', cron: '0 0 0 L * 9' }, 'schedule.cron', /^schedule\.cron: dayOfWeek: 9 is not valid/);
    assert.equal(validateSchedule({ type: 'CRON', cron: '0 0 0 L * *' }, NOW).type, 'CRON');
    assert.equal(validateSchedule({ type: 'CRON', cron: '0 0 9 * * 5#2' }, NOW).type, 'CRON');
  });

  test('a step larger than its field range is refused although node-cron accepts it', () => {
    rejects({ type: 'CRON', cron: '*/90 * * * * *' }, 'schedule.cron', /second: \*\/90: steps cannot be greater than maximum value/);
  });

  test('seven fields are refused and five fields are read as firing at second 0', () => {
    rejects({ type: 'CRON', cron: '0 0 12 * * * 2027' }, 'schedule.cron', /expected 6 fields .* got 7/);
    rejects({ type: 'CRON', cron: '0 12 *' }, 'schedule.cron', /got 3/);
    assert.deepEqual(validateSchedule({ type: 'CRON', cron: ' 0   12 * * 1-5 ' }, NOW), { type: 'CRON', cron: '0 0 12 * * 1-5' });
    assert.deepEqual(validateSchedule({ type: 'CRON', cron: '@hourly' }, NOW), { type: 'CRON', cron: '0 0 * * * *' });
  });

  test('an expression that never fires is refused', () => {
    rejects({ type: 'CRON', cron: '0 0 0 30 2 *' }, 'schedule.cron', /never fires/);
  });

  test('an unknown time zone is refused and a known one is written in its canonical form', () => {
    rejects({ type: 'CRON', cron: '* * * * * *', timezone: 'Mars/Base' }, 'schedule.timezone', /^schedule\.timezone: unknown time zone Mars\/Base$/);
    rejects({ type: 'CRON', cron: '* * * * * *', timezone: 7 }, 'schedule.timezone', /IANA time zone name/);
    const ok = validateSchedule({ type: 'CRON', cron: '0 0 9 * * *', timezone: 'asia/shanghai' }, NOW);
    assert.deepEqual(ok, { type: 'CRON', cron: '0 0 9 * * *', timezone: 'Asia/Shanghai' });
  });

  test('everyMs must be an integer between one second and 31 days', () => {
    rejects({ type: 'INTERVAL', everyMs: 999 }, 'schedule.everyMs', /at least 1000 \(1 second\), got 999/);
    rejects({ type: 'INTERVAL', everyMs: 1500.5 }, 'schedule.everyMs', /integer/);
    rejects({ type: 'INTERVAL', everyMs: '5000' }, 'schedule.everyMs', /integer/);
    rejects({ type: 'INTERVAL' }, 'schedule.everyMs', /got nothing/);
    rejects({ type: 'INTERVAL', everyMs: 32 * 86_400_000 }, 'schedule.everyMs', /at most 2678400000 \(31 days\)/);
    assert.deepEqual(validateSchedule({ type: 'INTERVAL', everyMs: 1000 }, NOW), { type: 'INTERVAL', everyMs: 1000 });
  });

  test('startAt and endAt must be ISO 8601 date-times and endAt must come after startAt', () => {
    rejects({ type: 'MANUAL', startAt: 'tomorrow' }, 'schedule.startAt', /expected an ISO 8601 date-time/);
    rejects({ type: 'MANUAL', startAt: 'March 7, 2026' }, 'schedule.startAt', /ISO 8601/);
    rejects({ type: 'MANUAL', endAt: '2026-02-30T10:00:00Z' }, 'schedule.endAt', /not a valid date-time/);
    rejects({ type: 'MANUAL', endAt: '2026-02-28T24:00:00Z' }, 'schedule.endAt', /not a valid date-time/);
    rejects(
      { type: 'INTERVAL', everyMs: 5000, startAt: '2026-07-01T10:00:00Z', endAt: '2026-07-01T09:00:00Z' },
      'schedule.endAt',
      /must be after schedule\.startAt/,
    );
  });

  test('startAt and endAt are normalised to UTC, reading offset-less times in the schedule time zone', () => {
    const s = validateSchedule(
      { type: 'CRON', cron: '0 0 * * * *', timezone: 'Asia/Shanghai', startAt: '2026-07-01T09:00', endAt: '2026-07-02T09:00:00.5+02:00' },
      NOW,
    );
    assert.equal(s.startAt, '2026-07-01T01:00:00.000Z');
    assert.equal(s.endAt, '2026-07-02T07:00:00.500Z');
  });

  test('the type and unknown fields are checked', () => {
    rejects(null, 'schedule', /expected an object/);
    rejects({ type: 'HOURLY' }, 'schedule.type', /expected MANUAL, INTERVAL or CRON, got "HOURLY"/);
    rejects({ type: 'INTERVAL', everyMs: 5000, cron: '* * * * * *' }, 'schedule.cron', /not a field of INTERVAL schedules/);
    rejects({ type: 'CRON', cron: '* * * * * *', timeZone: 'UTC' }, 'schedule.timeZone', /not a field/);
    assert.deepEqual(validateSchedule({ type: 'MANUAL' }, NOW), { type: 'MANUAL' });
  });
});
