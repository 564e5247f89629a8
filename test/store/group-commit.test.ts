import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupCommit } from '../../host/store/group-commit.js';

describe('group commit', () => {
  test('calls of one tick share a write, and calls made during a write share the next', async () => {
    const writes: number[][] = [];
    let release: (() => void) | null = null;
    const group = new GroupCommit<number>(async (items) => {
      writes.push(items);
      if (items[0] === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = [1, 2, 3].map((n) => group.add(n));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const second = [4, 5].map((n) => group.add(n));
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(writes, [[1, 2, 3]], 'the second group went before the first was committed');
    release!();
    await Promise.all([...first, ...second]);
    assert.deepEqual(writes, [[1, 2, 3], [4, 5]]);
  });

  test('a call made as the last group settles is written too', async () => {
    const written: number[] = [];
    const group = new GroupCommit<number>(async (items) => void written.push(...items));
    // Each add follows the settling of the one before, in the microtask that hears of it.
    for (let n = 0; n < 20; n++) await group.add(n);
    assert.deepEqual(written, Array.from({ length: 20 }, (_, n) => n));
  });

  test('a failed group is written again one by one, and only the bad call rejects', async () => {
    const writes: string[][] = [];
    const group = new GroupCommit<string>(async (items) => {
      writes.push(items);
      if (items.includes('bad')) throw new Error('bad row');
    });
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((item) => group.add(item)));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((results[1] as PromiseRejectedResult).reason), /bad row/);
    assert.deepEqual(writes, [['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  test('flush waits for everything added, and groups stop at the batch size', async () => {
    const writes: number[][] = [];
    const group = new GroupCommit<number>(async (items) => void writes.push(items), 2);
    for (let n = 0; n < 5; n++) void group.add(n);
    await group.flush();
    assert.deepEqual(writes, [[0, 1], [2, 3], [4]]);
  });
});
