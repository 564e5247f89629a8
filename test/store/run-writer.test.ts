import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { StoreHealth } from '../../host/store/health.js';
import type { RunSink } from '../../host/store/run-sink.js';
import { BatchedRunWriter } from '../../host/store/run-writer.js';
import type { RunRecord, RunUpdate } from '../../host/domain/index.js';
import { newRun } from './builders.js';

const job = { id: 1, projectId: 1 };

/** A sink that records what it was asked to write, and fails where told. */
function recordingSink(failInsert?: (runs: RunRecord[]) => unknown) {
  const calls: { inserts: RunRecord[][]; updates: RunUpdate[][] } = { inserts: [], updates: [] };
  const sink: RunSink = {
    async insertMany(runs) {
      calls.inserts.push(runs);
      const err = failInsert?.(runs);
      if (err) throw err;
    },
    async updateMany(updates) {
      calls.updates.push(updates);
    },
    isUniqueViolation: (err) => (err as { unique?: boolean }).unique === true,
    isFireConflict: (err) => (err as { fire?: boolean }).fire === true,
    isRunIdConflict: (err) => (err as { runId?: boolean }).runId === true,
  };
  return { sink, calls };
}

/**
 * Waits, a macrotask at a time (up to 2 s), until `done` holds. A timer of a few milliseconds is no proof that a
 * batch went out: on a loaded machine it can fire before the writer's setImmediate. The deadline is read from
 * performance.now(), which a test that mocks Date does not stop.
 */
async function until(done: () => boolean): Promise<void> {
  const deadline = performance.now() + 2_000;
  while (!done() && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
}

describe('the batched run writer', () => {
  test('backlog and lagMs say how far the database is behind', async (t) => {
    // The rows' age is measured with Date: a mocked one lets them wait exactly 60 ms.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { sink } = recordingSink();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let sent = 0;
    const slow: RunSink = { ...sink, insertMany: async (runs) => ((sent += runs.length), held) };
    const writer = new BatchedRunWriter(slow, silentLogger, { batchSize: 2 });
    assert.equal(writer.lagMs, 0);
    const writes = Array.from({ length: 5 }, (_, i) => writer.insert(newRun(job, new Date(i))));
    await until(() => sent > 0);
    t.mock.timers.tick(60);
    // The first batch of 2 is in the sink; 3 rows wait behind it, the oldest for 60 ms.
    assert.equal(sent, 2);
    assert.equal(writer.backlog, 3);
    assert.equal(writer.lagMs, 60);
    release();
    await Promise.all(writes);
    assert.equal(writer.backlog, 0);
    assert.equal(writer.lagMs, 0);
    await writer.close();
  });

  test('calls made together go out as one batch, split at the batch size', async () => {
    const { sink, calls } = recordingSink();
    const writer = new BatchedRunWriter(sink, silentLogger, { batchSize: 100, batchDelayMs: 5 });
    const runs = Array.from({ length: 250 }, (_, i) => newRun(job, new Date(i)));
    await Promise.all(runs.map((run) => writer.insert(run)));
    assert.deepEqual(calls.inserts.map((batch) => batch.length), [100, 100, 50]);
    await writer.close();
  });

  test('updates of a run whose insert is still queued are merged into that insert', async () => {
    const { sink, calls } = recordingSink();
    const writer = new BatchedRunWriter(sink, silentLogger);
    const run = newRun(job, new Date(0));
    await Promise.all([
      writer.insert(run),
      writer.update({ runId: run.runId, status: 'RUNNING', startedAt: new Date(5) }),
      writer.update({ runId: run.runId, status: 'SUCCEEDED', result: 'r' }),
    ]);
    assert.equal(calls.inserts.length, 1);
    assert.equal(calls.updates.length, 0);
    assert.equal(calls.inserts[0]?.[0]?.status, 'SUCCEEDED');
    assert.equal(calls.inserts[0]?.[0]?.startedAt?.getTime(), 5);
    assert.equal(run.status, 'QUEUED', "the caller's record is not changed");
    await writer.close();
  });

  test('an update arriving while its insert is being written goes into the next batch', async () => {
    const { sink, calls } = recordingSink();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow: RunSink = {
      ...sink,
      async insertMany(runs) {
        calls.inserts.push(runs);
        await held;
      },
    };
    const writer = new BatchedRunWriter(slow, silentLogger, { batchDelayMs: 0 });
    const run = newRun(job, new Date(0));
    const inserted = writer.insert(run);
    await until(() => calls.inserts.length === 1);
    const updated = writer.update({ runId: run.runId, status: 'RUNNING' });
    release();
    await Promise.all([inserted, updated]);
    assert.deepEqual(calls.updates, [[{ runId: run.runId, status: 'RUNNING' }]]);
    await writer.close();
  });

  test('a batch broken by a duplicate fire is retried row by row and only the duplicate rejects', async () => {
    const dup = newRun(job, new Date(42));
    const { sink, calls } = recordingSink((runs) =>
      runs.some((r) => r.runId === dup.runId) ? { unique: true, fire: true } : undefined,
    );
    const writer = new BatchedRunWriter(sink, silentLogger);
    const others = [newRun(job, new Date(1)), newRun(job, new Date(2))];
    const results = await Promise.allSettled([others[0]!, dup, others[1]!].map((r) => writer.insert(r)));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal((results[1] as PromiseRejectedResult).reason.code, 'DUPLICATE_FIRE');
    assert.deepEqual(calls.inserts.map((batch) => batch.length), [3, 1, 1, 1]);
    await writer.close();
  });

  test('any other failure rejects every call of the batch with its cause', async () => {
    const cause = new Error('disk full');
    const { sink } = recordingSink(() => cause);
    const writer = new BatchedRunWriter(sink, silentLogger);
    const results = await Promise.allSettled([writer.insert(newRun(job, new Date(1))), writer.insert(newRun(job, new Date(2)))]);
    assert.deepEqual(results.map((r) => (r.status === 'rejected' ? r.reason : null)), [cause, cause]);
    await writer.close();
  });

  test('flush waits for everything queued, and a closed writer refuses new calls', async () => {
    const { sink, calls } = recordingSink();
    const writer = new BatchedRunWriter(sink, silentLogger, { batchDelayMs: 1_000 });
    void writer.insert(newRun(job, new Date(1)));
    await writer.flush();
    assert.equal(calls.inserts.length, 1);
    await writer.close();
    await assert.rejects(writer.insert(newRun(job, new Date(2))), /closed/);
  });

  test('with two batches in flight, the second goes while the first commits, and the writes of one run keep their order', async () => {
    // A sink that holds each write until told, and records the order writes were committed in.
    const committed: string[] = [];
    const holds: Array<() => void> = [];
    let inFlight = 0;
    let maxSeen = 0;
    const held = async (label: string): Promise<void> => {
      inFlight++;
      maxSeen = Math.max(maxSeen, inFlight);
      await new Promise<void>((resolve) => holds.push(resolve));
      inFlight--;
      committed.push(label);
    };
    const sink: RunSink = {
      insertMany: (runs) => held(runs.map((r) => `insert ${r.runId}`).join(',')),
      updateMany: (updates) => held(updates.map((u) => `${u.status} ${u.runId}`).join(',')),
      isUniqueViolation: () => false,
      isFireConflict: () => false,
      isRunIdConflict: () => false,
    };
    const writer = new BatchedRunWriter(sink, silentLogger, { maxInFlight: 2 });
    const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
    const [a, b] = [newRun(job, new Date(1)), newRun(job, new Date(2))];
    const writes = [writer.insert(a)];
    await until(() => inFlight === 1);
    // a's insert is in flight: b's goes on the second lane at once, a's update must wait for a's insert.
    writes.push(writer.insert(b), writer.update({ runId: a.runId, status: 'RUNNING', startedAt: new Date(3) }));
    await until(() => inFlight === 2);
    assert.equal(inFlight, 2, 'the second batch did not go while the first was in flight');
    // The second lane took b only; committing b first leaves a's update waiting for a's insert.
    holds.splice(1, 1)[0]!();
    await until(() => committed.length === 1);
    writes.push(writer.update({ runId: a.runId, status: 'SUCCEEDED', endedAt: new Date(4) }));
    await tick();
    assert.deepEqual(committed, [`insert ${b.runId}`]);
    while (committed.length < 3 || holds.length > 0) {
      holds.shift()?.();
      await tick();
    }
    await Promise.all(writes);
    await writer.flush();
    assert.deepEqual(committed, [`insert ${b.runId}`, `insert ${a.runId}`, `SUCCEEDED ${a.runId}`]);
    assert.equal(maxSeen, 2);
    await writer.close();
  });

  test("a batch's next statement goes to the database before the callers of its committed rows hear of them", async () => {
    // Callers that hear their row is committed start their runs, which is work on this thread; the statement after
    // it must not wait for that work.
    const events: string[] = [];
    const sink: RunSink = {
      insertMany: async (runs) => void events.push(`insert ${runs.length}`),
      updateMany: async (updates) => void events.push(`update ${updates.length}`),
      isUniqueViolation: () => false,
      isFireConflict: () => false,
      isRunIdConflict: () => false,
    };
    const writer = new BatchedRunWriter(sink, silentLogger);
    const [a, b] = [newRun(job, new Date(1)), newRun(job, new Date(2))];
    await writer.insert(a);
    events.length = 0;
    const inserted = writer.insert(b).then(() => void events.push('b heard'));
    const updated = writer.update({ runId: a.runId, status: 'RUNNING', startedAt: new Date(3) }).then(() => void events.push('a heard'));
    await Promise.all([inserted, updated]);
    assert.deepEqual(events, ['insert 1', 'update 1', 'b heard', 'a heard']);
    await writer.close();
  });

  test("a run's final row waits for company; the next fire's insert and a start's RUNNING row do not wait behind it", async () => {
    const { sink, calls } = recordingSink();
    const writer = new BatchedRunWriter(sink, silentLogger, { finalDelayMs: 200 });
    const [a, b, c] = [newRun(job, new Date(1)), newRun(job, new Date(2)), newRun(job, new Date(3))];
    await Promise.all([writer.insert(a), writer.insert(c)]);
    const t0 = performance.now();
    let ended = false;
    const end = writer.update({ runId: a.runId, status: 'SUCCEEDED', endedAt: new Date(4) }).then(() => (ended = true));
    // The next fire's insert and another run's start go at once, without the final row.
    await writer.insert(b);
    await writer.update({ runId: c.runId, status: 'RUNNING', startedAt: new Date(5) });
    assert.deepEqual(calls.inserts.at(-1)!.map((run) => run.runId), [b.runId]);
    assert.deepEqual(calls.updates.map((batch) => batch.map((update) => update.status)), [['RUNNING']]);
    assert.equal(ended, false);
    // It goes when its wait is up, with any final rows that came meanwhile.
    const endB = writer.update({ runId: b.runId, status: 'FAILED', endedAt: new Date(6) });
    await Promise.all([end, endB]);
    assert.ok(performance.now() - t0 >= 190, 'the final rows waited for company');
    assert.deepEqual(calls.updates.at(-1)!.map((update) => update.runId), [a.runId, b.runId]);
    // flush() does not wait: a closing host or a test reading the rows writes them at once.
    const t1 = performance.now();
    void writer.update({ runId: c.runId, status: 'SUCCEEDED', endedAt: new Date(7) });
    await writer.flush();
    assert.ok(performance.now() - t1 < 150, 'flush wrote the final row without its wait');
    assert.equal(calls.updates.at(-1)![0]!.runId, c.runId);
    await writer.close();
  });

  test('rows the database could not take while it was down are kept, merged with later writes, and written when it answers', async () => {
    let down = true;
    const { sink, calls } = recordingSink(() => (down ? Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' }) : undefined));
    const failingUpdates: RunSink = {
      ...sink,
      updateMany: async (updates) => {
        if (down) throw Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST' });
        await sink.updateMany(updates);
      },
    };
    let probes = 0;
    const health = new StoreHealth(async () => {
      probes++;
      if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }, silentLogger, 20);
    const writer = new BatchedRunWriter(failingUpdates, silentLogger, {}, health);
    // The probe's timer does not hold a process open (a host has its server for that); this test holds it.
    const keepAlive = setInterval(() => undefined, 1_000);
    const run = newRun(job, new Date(1));
    const inserted = writer.insert(run);
    await until(() => !health.up);
    assert.equal(health.up, false, 'a refused connection marks the database down');
    // While it is down: the end of the run comes, and is merged into the row that waits.
    const ended = writer.update({ runId: run.runId, status: 'SUCCEEDED', endedAt: new Date(2), result: 'done' });
    await until(() => probes >= 2);
    assert.ok(probes >= 2, 'the database is probed while it is down');
    assert.equal(writer.backlog, 1, 'the row is kept, once');
    assert.equal(await writer.flush(50), false, 'a flush gives up waiting for a database that does not answer');
    down = false;
    await Promise.all([inserted, ended]);
    assert.equal(health.up, true);
    const written = calls.inserts.at(-1)!;
    assert.equal(written.length, 1);
    assert.equal(written[0]!.status, 'SUCCEEDED');
    assert.equal(written[0]!.result, 'done');
    assert.equal(writer.backlog, 0);
    await writer.close();
    health.close();
    clearInterval(keepAlive);
  });

  test('a wrong statement is not an outage: its calls reject and the database stays up', async () => {
    const { sink } = recordingSink(() => Object.assign(new Error('Unknown column'), { code: 'ER_BAD_FIELD_ERROR' }));
    const health = new StoreHealth(async () => undefined, silentLogger, 20);
    const writer = new BatchedRunWriter(sink, silentLogger, {}, health);
    await assert.rejects(writer.insert(newRun(job, new Date(1))), /Unknown column/);
    assert.equal(health.up, true);
    await writer.close();
    health.close();
  });
});
