/**
 * The run writer against a real MySQL/MariaDB server, where two batches are written at once: a statement InnoDB
 * picks as a deadlock's victim is sent again, and two lanes never let an older write of a run land after a newer one.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { silentLogger } from '../../host/log/logger.js';
import { openStoreContext } from '../../host/store/context.js';
import { createStore } from '../../host/store/index.js';
import type { RunSink } from '../../host/store/run-sink.js';
import { createRunSink } from '../../host/store/run-sink.js';
import { BatchedRunWriter } from '../../host/store/run-writer.js';
import type { RunStatus } from '../../host/domain/index.js';
import type { Store } from '../../host/store/types.js';
import { testDatabases } from '../helpers/db.js';
import type { MadeDatabase } from '../helpers/db.js';
import { newRun, seedJob } from './builders.js';

const T0 = Date.UTC(2025, 0, 1, 0, 0, 0, 0);
const database = testDatabases().find((d) => d.name === 'mysql')!;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls until check() gives a value (up to 10 s). Not faster: a session reading INNODB_TRX every few milliseconds
 * kept the writer's UPDATE from starting at all on MariaDB 10.11.
 */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('the run writer on MySQL/MariaDB', { skip: database.skip }, () => {
  let made: MadeDatabase;
  let store: Store;
  let url: string;

  before(async () => {
    made = await database.make();
    store = await createStore(made.db, silentLogger);
    url = (made.db as { url: string }).url;
  });
  after(async () => {
    await store?.close();
    await made?.drop();
  });

  test("a writer's UPDATE that InnoDB rolls back as a deadlock's victim is sent again and commits after the other side", async () => {
    const job = await seedJob(store, 'deadlock');
    // A before B in the batch and in the primary key: whichever way the server walks the join, it locks A first.
    const [idA, idB] = [randomUUID(), randomUUID()].sort() as [string, string];
    await Promise.all([idA, idB].map((runId, i) => store.runWriter.insert(newRun(job, new Date(T0 + i), { runId, trigger: 'MANUAL' }))));
    const other = await mysql.createConnection(url);
    const watch = await mysql.createConnection(url);
    try {
      /**
       * The writer's open transaction: the one neither this side's nor the watcher's (INNODB_TRX cuts trx_query at
       * 1,024 characters, before the run ids of the writer's statement).
       */
      const writerTrx = async (): Promise<{ state: string; locked: number; id: string } | undefined> => {
        const [rows] = await watch.query(
          'SELECT trx_id AS id, trx_state AS state, trx_rows_locked AS locked FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id NOT IN (?, ?)',
          [other.threadId, watch.threadId],
        );
        const row = (rows as { id: string; state: string; locked: number }[])[0];
        return row ? { id: String(row.id), state: row.state, locked: Number(row.locked) } : undefined;
      };
      await other.query('CREATE TABLE ballast (id INT PRIMARY KEY) ENGINE=InnoDB');
      await other.beginTransaction();
      // InnoDB rolls back the transaction that did less: this side writes 200 rows first, so the writer is the victim.
      await other.query(`INSERT INTO ballast (id) VALUES ${Array.from({ length: 200 }, (_, i) => `(${i})`).join(', ')}`);
      await other.query('UPDATE runs SET result = ?, host = ? WHERE run_id = ?', ['from the other side', 'other side', idB]);

      let settled = false;
      const written = Promise.all([
        store.runWriter.update({ runId: idA, status: 'SUCCEEDED', result: 'from the writer', endedAt: new Date(T0 + 10) }),
        store.runWriter.update({ runId: idB, status: 'SUCCEEDED', result: 'from the writer', endedAt: new Date(T0 + 11) }),
      ]).finally(() => (settled = true));
      const first = await until('the writer to hold A and wait for B', async () => {
        const trx = await writerTrx();
        return trx?.state === 'LOCK WAIT' ? trx : undefined;
      });
      // Its first statement, the rollup, reads A and B with shared locks: it holds A and waits for B.
      assert.ok(first.locked >= 1, 'the writer holds A and waits for B');

      // The cycle closes: InnoDB rolls the writer's statement back, which frees A for this side.
      await other.query('UPDATE runs SET result = ?, host = ? WHERE run_id = ?', ['from the other side', 'other side', idA]);
      const retry = await until('the writer to send its statement again', async () => {
        const trx = await writerTrx();
        // Not the first transaction (the id cannot tell: InnoDB numbers a transaction at its first write, and these have
        // written nothing): that one was rolled back, or this side's UPDATE of A would not have returned.
        return trx?.state === 'LOCK WAIT' ? trx : undefined;
      });
      assert.equal(retry.state, 'LOCK WAIT', 'the statement sent again waits for A, which this side now holds');
      assert.equal(settled, false, 'the writer waits for the other side');
      await other.commit();
      await written;
    } finally {
      await other.end();
      await watch.end();
    }
    for (const runId of [idA, idB]) {
      const row = await store.runs.get(runId);
      assert.equal(row?.status, 'SUCCEEDED', runId);
      assert.equal(row?.result, 'from the writer', `${runId}: the writer's statement committed last`);
      assert.equal(row?.host, 'other side', `${runId}: the other side's change is kept`);
    }
  });

  test('runs written on two lanes at once (insert, RUNNING, end) all end in their final state, never under an older write', async () => {
    const job = await seedJob(store, 'two-lanes');
    const ctx = await openStoreContext(made.db, silentLogger);
    // The real statements, each sent after a random pause: a batch that went second often commits first, which
    // would put a run's older write over its newer one if a batch could hold a run another batch holds.
    const real = createRunSink(ctx);
    let inFlight = 0;
    let mostInFlight = 0;
    const held = new Set<string>();
    const heldTwice: string[] = [];
    const paced = <T extends { runId: string }>(write: (rows: T[]) => Promise<void>) => async (rows: T[]): Promise<void> => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      for (const { runId } of rows) {
        if (held.has(runId)) heldTwice.push(runId);
        held.add(runId);
      }
      try {
        await sleep(Math.random() * 12);
        await write(rows);
      } finally {
        inFlight--;
        for (const { runId } of rows) held.delete(runId);
      }
    };
    const sink: RunSink = { ...real, insertMany: paced(real.insertMany), updateMany: paced(real.updateMany) };
    const writer = new BatchedRunWriter(sink, silentLogger, { maxInFlight: 2, batchSize: 50 });
    const expected = new Map<string, { status: RunStatus; startedAt: number; endedAt: number; result: string }>();
    try {
      let next = 0;
      const ends: Promise<void>[] = [];
      const caller = async (): Promise<void> => {
        while (next < 1_000) {
          const i = next++;
          const run = newRun(job, new Date(T0 + i));
          const want = { status: (i % 3 ? 'SUCCEEDED' : 'FAILED') as RunStatus, startedAt: T0 + i + 1, endedAt: T0 + i + 2, result: `r${i}` };
          expected.set(run.runId, want);
          await writer.insert(run);
          void writer.update({ runId: run.runId, status: 'RUNNING', startedAt: new Date(want.startedAt) });
          // The end comes a few milliseconds later, often while the RUNNING update is in flight.
          ends.push(sleep(Math.random() * 15).then(() => writer.update({ runId: run.runId, status: want.status, endedAt: new Date(want.endedAt), result: want.result })));
        }
      };
      // Few callers: a RUNNING update then waits in the queue for less time than its end takes to come.
      await Promise.all(Array.from({ length: 20 }, caller));
      await Promise.all(ends);
      await writer.close();
    } finally {
      await ctx.sequelize.close();
    }
    assert.equal(mostInFlight, 2, 'two batches were written at once');
    const { items, nextCursor } = await store.runs.list({ jobId: job.id, limit: 1_000 });
    assert.equal(nextCursor, null);
    assert.equal(items.length, expected.size);
    const wrong = items.filter((row) => {
      const want = expected.get(row.runId)!;
      return row.status !== want.status || row.result !== want.result || row.startedAt?.getTime() !== want.startedAt || row.endedAt?.getTime() !== want.endedAt;
    });
    assert.deepEqual(wrong.map((row) => `${row.runId} ${row.status} ${row.result}`), [], 'rows not in their final state');
    assert.deepEqual(heldTwice, [], 'no run was held by two batches in flight at once');
  });
});
