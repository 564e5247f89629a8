import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobSlots } from '../../host/dispatch/job-slots.js';

test('ALLOW always starts, and each start counts as running', () => {
  const slots = new JobSlots<string>();
  assert.equal(slots.admit(1, 'ALLOW', 10), 'start');
  assert.equal(slots.admit(1, 'ALLOW', 10), 'start');
  assert.equal(slots.runningCount(1), 2);
});

test('SKIP starts when idle and skips while a run is going', () => {
  const slots = new JobSlots<string>();
  assert.equal(slots.admit(1, 'SKIP', 10), 'start');
  assert.equal(slots.admit(1, 'SKIP', 10), 'skip');
  assert.equal(slots.release(1), undefined);
  assert.equal(slots.admit(1, 'SKIP', 10), 'start');
});

test('WAIT queues in order up to maxQueue and hands the next item over on release', () => {
  const slots = new JobSlots<string>();
  assert.equal(slots.admit(1, 'WAIT', 2), 'start');
  assert.equal(slots.admit(1, 'WAIT', 2), 'queue');
  slots.enqueue(1, 'a');
  assert.equal(slots.admit(1, 'WAIT', 2), 'queue');
  slots.enqueue(1, 'b');
  assert.equal(slots.admit(1, 'WAIT', 2), 'queue-full');
  assert.equal(slots.release(1), 'a');
  assert.equal(slots.runningCount(1), 1, 'the handed-over item counts as running');
  assert.equal(slots.release(1), 'b');
  assert.equal(slots.release(1), undefined);
  assert.equal(slots.runningCount(1), 0);
});

test('a queued item can be taken out (kill while queued) and queues drain at shutdown', () => {
  const slots = new JobSlots<string>();
  slots.admit(1, 'WAIT', 5);
  for (const item of ['a', 'b', 'c']) {
    slots.admit(1, 'WAIT', 5);
    slots.enqueue(1, item);
  }
  assert.equal(slots.dequeue(1, (x) => x === 'b'), 'b');
  assert.equal(slots.dequeue(1, (x) => x === 'zz'), undefined);
  assert.deepEqual(slots.drainQueues(), ['a', 'c']);
  assert.equal(slots.queuedCount(1), 0);
});
