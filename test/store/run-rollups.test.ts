/**
 * The run rollups count every final row exactly once, whichever way it was written: ended by an update, inserted
 * final, an update sent again after a lost answer, an insert sent again (which becomes an update of its row).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { openStoreContext, type StoreContext } from '../../host/store/context.js';
import { createRollupRepo } from '../../host/store/run-rollups.js';
import { createRunSink, type RunSink } from '../../host/store/run-sink.js';
import { BatchedRunWriter } from '../../host/store/run-writer.js';
import type { RollupRepo } from '../../host/store/types.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { newRun } from './builders.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 0, 1, 10, 0, 0, 0);

for (const database of testDatabases()) {
  describe(`run rollups on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    let ctx: StoreContext;
    let sink: RunSink;
    let writer: BatchedRunWriter;
    let rollups: RollupRepo;

    before(async () => {
      made = await database.make();
      ctx = await openStoreContext(made.db, silentLogger);
      sink = createRunSink(ctx);
      writer = new BatchedRunWriter(sink, silentLogger);
      rollups = createRollupRepo(ctx);
    });
    after(async () => {
      await writer?.close();
      await ctx?.sequelize.close();
      await made?.drop();
    });

    const summary = async (projectIds?: number[]) => ({
      ...(await rollups.day({ projectIds, hoursSince: new Date(T0 - 2 * HOUR), slowest: 5 })),
      minutes: await rollups.minutes({ projectIds, minutesSince: new Date(T0 - HOUR) }),
    });

    test('each final row counts once, however often and however it was written', async () => {
      const job = { id: 7, projectId: 3 };
      const ended = (i: number) => ({ status: 'SUCCEEDED' as const, startedAt: new Date(T0 + i * 1_000 + 20), endedAt: new Date(T0 + i * 1_000 + 120) });
      const runs = Array.from({ length: 4 }, (_, i) => newRun(job, new Date(T0 + i * 1_000)));
      await Promise.all(runs.map((run) => writer.insert(run)));
      await Promise.all(runs.map((run, i) => writer.update({ runId: run.runId, ...ended(i) })));
      // The same end sent again, as after an answer lost on the way back.
      await sink.updateMany(runs.slice(0, 2).map((run, i) => ({ runId: run.runId, ...ended(i) })));
      // A row inserted final, then its insert sent again: the writer turns the second into an update of the row (MANUAL:
      // a SCHEDULE row would also break UNIQUE(job, fire time), which SQLite may report first).
      const skipped = newRun(job, new Date(T0 + 10_000), { trigger: 'MANUAL', status: 'SKIPPED', endedAt: new Date(T0 + 10_000) });
      await writer.insert(skipped);
      await writer.insert({ ...skipped });
      // A row that ended and then was marked again (a kill racing its end): the first final status stays counted.
      await writer.update({ runId: runs[3]!.runId, status: 'KILLED', endedAt: new Date(T0 + 3_500) });
      await writer.flush();

      const figures = await summary();
      assert.deepEqual(figures.byStatus, { SUCCEEDED: 4, SKIPPED: 1 });
      assert.deepEqual(figures.slowest, [{ jobId: 7, projectId: 3, runs: 5, avgMs: 100, maxMs: 100 }]);
      assert.deepEqual(figures.minutes, [{ bucket: T0, runs: 5, lagP95Ms: 20 }]);
      assert.deepEqual((await summary([4])).byStatus, {});
    });
  });
}
