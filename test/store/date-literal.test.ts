import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dialectTraits } from '../../host/store/capabilities.js';

/** The text a DATE(3) column holds, spelled the slow way for comparison. */
function expected(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

describe('date literals', () => {
  // One pair of traits for the whole suite, as a store holds: the per-second cache is theirs.
  const mysql = dialectTraits('mysql');
  const sqlite = dialectTraits('sqlite');

  test('every millisecond of a second, across second, day and year ends, before 1970 too, matches toISOString', () => {
    const starts = [Date.UTC(2026, 10, 30, 10, 0, 0), Date.UTC(2026, 11, 31, 23, 59, 59), Date.UTC(1969, 11, 31, 23, 59, 59), 0, Date.UTC(2000, 1, 29, 0, 0, 0)];
    for (const start of starts) {
      // Forwards and backwards, so the per-second cache is both hit and left in each direction.
      for (const step of [1, -1]) {
        for (let ms = 0; ms < 2_000; ms++) {
          const date = new Date(start + step * ms);
          assert.equal(mysql.dateLiteral(date), expected(date));
          assert.equal(sqlite.dateLiteral(date), `${expected(date)} +00:00`);
        }
      }
    }
  });

  test('an invalid date is refused, and does not spoil the next literal', () => {
    assert.throws(() => mysql.dateLiteral(new Date(Number.NaN)), RangeError);
    const date = new Date(Date.UTC(2026, 10, 30, 10, 0, 0, 7));
    assert.equal(mysql.dateLiteral(date), '2026-11-30 10:00:00.007');
  });
});
