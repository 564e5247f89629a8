import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ScheduledJobs } from '../../host/scheduler/scheduled-jobs.js';
import type { JobRecord } from '../../host/domain/index.js';
import { newJob } from '../store/builders.js';

const T0 = Date.parse('2026-06-01T10:00:00.000Z');
const fire = (jobId: number, at = T0) => ({ jobId, fireAt: new Date(at) });

function record(id: number, overrides: Partial<JobRecord> = {}): JobRecord {
  return { ...newJob(1, `job-${id}`, { state: 'ACTIVE' }), id, createdAt: new Date(T0), updatedAt: new Date(T0), ...overrides };
}

/** A list whose loads read from `stored` and are counted; `gate` holds a load until it is released. */
function harness(maxCached: number) {
  const stored = new Map<number, JobRecord>();
  const loads: number[][] = [];
  let gate: Promise<void> | null = null;
  let clock = T0;
  const jobs = new ScheduledJobs({
    maxCached,
    pinMs: 60_000,
    now: () => clock,
    load: async (ids) => {
      loads.push([...ids].sort((a, b) => a - b));
      if (gate) await gate;
      // A fresh object per load, as the store gives.
      return ids.flatMap((id) => (stored.has(id) ? [{ ...stored.get(id)! }] : []));
    },
  });
  const put = (job: JobRecord): JobRecord => {
    stored.set(job.id, job);
    return job;
  };
  const hold = (): (() => void) => {
    let release = () => {};
    gate = new Promise((resolve) => (release = resolve));
    return () => {
      gate = null;
      release();
    };
  };
  return { jobs, stored, loads, put, hold, tick: (ms: number) => (clock += ms) };
}

describe('ScheduledJobs', () => {
  test('jobs whose records are cached are handed over without a load, as the very objects given', async () => {
    const h = harness(10);
    const a = h.put(record(1));
    const b = h.put(record(2));
    h.jobs.set(a, a);
    h.jobs.set(b, b);
    const handover = await h.jobs.handOver([fire(1), fire(2)]);
    assert.deepEqual(h.loads, []);
    assert.equal(handover.fires[0]?.job, a);
    assert.equal(handover.fires[1]?.job, b);
    assert.equal(handover.current(1), a);
  });

  test('jobs whose records were evicted or never held are loaded in one query, and launch with the loaded object', async () => {
    const h = harness(1);
    for (const id of [1, 2, 3]) h.jobs.set(h.put(record(id)), id === 3 ? null : h.stored.get(id)!);
    assert.equal(h.jobs.cachedCount, 1);
    const handover = await h.jobs.handOver([fire(1), fire(2), fire(3)]);
    // 1 was evicted by 2, 3 was scheduled without its record.
    assert.deepEqual(h.loads, [[1, 3]]);
    assert.deepEqual(handover.fires.map((f) => f.job.id), [1, 2, 3]);
    assert.equal(handover.fires[1]?.job, h.stored.get(2));
    assert.deepEqual(handover.fires[0]?.job, h.stored.get(1));
    assert.equal(handover.current(1), handover.fires[0]?.job);
    assert.equal(handover.current(3), handover.fires[2]?.job);
  });

  test('a job changed after its fire was handed over launches with the new definition, even once the cache dropped it', async () => {
    const h = harness(1);
    const a = h.put(record(1));
    h.jobs.set(a, a);
    const handover = await h.jobs.handOver([fire(1)]);
    const changed = record(1, { timeoutMs: 9_000 });
    h.jobs.set(changed, changed);
    const other = h.put(record(2));
    h.jobs.set(other, other);
    assert.equal(h.jobs.cachedCount, 1);
    assert.equal(handover.current(1), changed);
  });

  test('a job taken off the list after its fire was handed over launches with nothing', async () => {
    const h = harness(10);
    const a = h.put(record(1));
    h.jobs.set(a, a);
    const handover = await h.jobs.handOver([fire(1)]);
    h.jobs.delete(1);
    assert.equal(handover.current(1), undefined);
  });

  test('a job changed while its record loads is planned with the new definition; one removed is not planned', async () => {
    const h = harness(1);
    for (const id of [1, 2, 3]) h.jobs.set(h.put(record(id)), null);
    const release = h.hold();
    const pending = h.jobs.handOver([fire(1), fire(2), fire(3)]);
    const changed = record(2, { timeoutMs: 9_000 });
    h.jobs.set(changed, changed);
    h.jobs.delete(3);
    release();
    const handover = await pending;
    assert.deepEqual(handover.fires.map((f) => f.job.id), [1, 2]);
    assert.equal(handover.fires[1]?.job, changed);
    assert.equal(handover.current(2), changed);
  });

  test('a PENDING job becomes ACTIVE at its first fire, in its entry and in a record loaded before the write landed', async () => {
    const h = harness(1);
    const pending = h.put(record(1, { state: 'PENDING' }));
    h.jobs.set(pending, null);
    assert.equal(h.jobs.activate(1), true);
    assert.equal(h.jobs.activate(1), false);
    assert.equal(h.jobs.get(1)?.state, 'ACTIVE');
    const handover = await h.jobs.handOver([fire(1)]);
    assert.equal(handover.fires[0]?.job.state, 'ACTIVE');
  });

  test('a change long after the last handover is not pinned: the cache bound holds', async () => {
    const h = harness(1);
    const a = h.put(record(1));
    h.jobs.set(a, a);
    await h.jobs.handOver([fire(1)]);
    h.tick(61_000);
    const changed = h.put(record(1, { timeoutMs: 9_000 }));
    h.jobs.set(changed, changed);
    const other = h.put(record(2));
    h.jobs.set(other, other);
    // Nothing holds the new definition of job 1 in memory any more: its next fire loads it.
    const next = await h.jobs.handOver([fire(1, T0 + 120_000)]);
    assert.deepEqual(h.loads, [[1]]);
    assert.equal(next.fires[0]?.job.timeoutMs, 9_000);
  });
});
