import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CronCache } from '../../host/scheduler/cron.js';
import { LruMap } from '../../host/scheduler/lru.js';

const at = (iso: string) => Date.parse(iso);

describe('CronCache with few parsed expressions', () => {
  test('holds no more parsed croner objects than its bound and still answers every expression right', () => {
    const cache = new CronCache(100, 2);
    const crons = [0, 1, 2, 3, 4].map((s) => cache.get(`${s} * * * * *`, undefined));
    assert.equal(cache.size, 5);
    assert.equal(cache.parsedCount, 2);
    const from = at('2026-06-01T10:00:00.500Z');
    for (let round = 0; round < 2; round++) {
      for (const [s, cron] of crons.entries()) {
        assert.equal(cron.nextAfter(from + round * 60_000), at('2026-06-01T10:00:00Z') + round * 60_000 + (s === 0 ? 60_000 : s * 1000));
      }
    }
    assert.equal(cache.parsedCount, 2);
  });

  test('a bad expression fails when it is asked for, naming the field', () => {
    const cache = new CronCache(100, 2);
    assert.throws(() => cache.get('0 61 * * * *', undefined), /minute/);
    assert.equal(cache.size, 0);
  });
});

describe('LruMap', () => {
  test('evicts the least recently used entry: a read counts as a use', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    assert.equal(lru.get('a'), 1);
    lru.set('c', 3);
    assert.equal(lru.get('b'), undefined);
    assert.equal(lru.get('a'), 1);
    assert.equal(lru.get('c'), 3);
    assert.equal(lru.delete('a'), true);
    assert.equal(lru.size, 1);
  });
});
