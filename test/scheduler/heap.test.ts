import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FireHeap } from '../../host/scheduler/heap.js';

/** A small seeded generator (mulberry32) so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('FireHeap', () => {
  test('random inserts, replacements and removals always pop in (fireAt, jobId) order', () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const next = random(seed);
      const heap = new FireHeap();
      const model = new Map<number, number>();
      for (let step = 0; step < 3000; step++) {
        const jobId = Math.floor(next() * 200);
        const op = next();
        if (op < 0.55) {
          const fireAt = Math.floor(next() * 50);
          heap.upsert(jobId, fireAt);
          model.set(jobId, fireAt);
        } else if (op < 0.8) {
          assert.equal(heap.remove(jobId), model.delete(jobId));
        } else {
          const top = heap.pop();
          const expected = [...model].sort((a, b) => a[1] - b[1] || a[0] - b[0])[0];
          assert.deepEqual(top && [top.jobId, top.fireAt], expected);
          if (expected) model.delete(expected[0]);
        }
        assert.equal(heap.size, model.size);
        assert.equal(heap.fireAtOf(jobId), model.get(jobId));
        assert.equal(heap.has(jobId), model.has(jobId));
      }
      const drained: [number, number][] = [];
      for (let top = heap.pop(); top; top = heap.pop()) drained.push([top.jobId, top.fireAt]);
      assert.deepEqual(drained, [...model].sort((a, b) => a[1] - b[1] || a[0] - b[0]));
    }
  });

  test('peek shows the earliest entry without removing it and an empty heap has none', () => {
    const heap = new FireHeap();
    assert.equal(heap.peek(), undefined);
    assert.equal(heap.pop(), undefined);
    heap.upsert(7, 300);
    heap.upsert(3, 100);
    heap.upsert(5, 100);
    assert.deepEqual(heap.peek(), { jobId: 3, fireAt: 100 });
    heap.upsert(3, 500);
    assert.deepEqual(heap.peek(), { jobId: 5, fireAt: 100 });
    assert.equal(heap.size, 3);
    assert.equal(heap.remove(99), false);
  });
});
