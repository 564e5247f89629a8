/**
 * The run rollups count every final row exactly once, whichever way it was written: ended by an update, inserted
 * final, an update sent again after a lost answer, an insert sent again (which becomes an update of its row).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { openStoreContext, type StoreContext } from '../../host/store/context.js';
import { ROLLUP_LAG_BOUNDS, ROLLUP_LAG_COLUMNS } from '../../host/store/migrations/0008-run-rollups.js';
import { hasIndex } from '../../host/store/migrations/0001-initial.js';
import * as rollupMinutes from '../../host/store/migrations/0011-rollup-minutes-by-project.js';
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

    test("a minute is counted once per project and status, whichever of the project's jobs ran (migration 0011)", async () => {
      const t = T0 + 3 * HOUR;
      const a = { id: 21, projectId: 11 };
      const b = { id: 22, projectId: 11 };
      const other = { id: 23, projectId: 12 };
      const runs = [a, b, other, a].map((job, i) => newRun(job, new Date(t + i * 1_000)));
      await Promise.all(runs.map((run) => writer.insert(run)));
      await Promise.all(runs.map((run, i) => writer.update({ runId: run.runId, status: 'SUCCEEDED', startedAt: new Date(t + i * 1_000 + 5), endedAt: new Date(t + i * 1_000 + 50), run })));
      await writer.flush();
      const cells = await ctx.driver.select("SELECT `project_id`, `job_id`, `runs` FROM `run_rollups` WHERE `span` = 'm' AND `bucket` = ? ORDER BY `project_id`", [t]);
      assert.deepEqual(cells.map((row) => [Number(row.project_id), Number(row.job_id), Number(row.runs)]), [[11, 0, 3], [12, 0, 1]]);
      const hours = await ctx.driver.select("SELECT `job_id`, `runs` FROM `run_rollups` WHERE `span` = 'h' AND `bucket` = ? ORDER BY `job_id`", [t]);
      assert.deepEqual(hours.map((row) => [Number(row.job_id), Number(row.runs)]), [[21, 2], [22, 1], [23, 1]]);
      const minutes = (projectIds: number[]) => rollups.minutes({ projectIds, minutesSince: new Date(t - 60_000) });
      assert.deepEqual(await minutes([11]), [{ bucket: t, runs: 3, lagP95Ms: 5 }]);
      assert.deepEqual(await minutes([12]), [{ bucket: t, runs: 1, lagP95Ms: 5 }]);
    });

    test('migration 0011 keeps the cells written per job before it, and the minute series counts both kinds', async () => {
      const t = T0 + 5 * HOUR;
      const migration = { context: { queryInterface: ctx.sequelize.getQueryInterface(), traits: ctx.traits }, name: '0011-rollup-minutes-by-project' };
      const key = async () => {
        const columns = await ctx.sequelize.getQueryInterface().describeTable('run_rollups');
        return Object.keys(columns).filter((name) => columns[name]!.primaryKey).sort();
      };
      await rollupMinutes.down(migration);
      assert.deepEqual(await key(), ['bucket', 'job_id', 'span', 'status']);
      // Per-job minute cells, as an earlier version wrote them.
      const job = { id: 31, projectId: 13 };
      await ctx.driver.run(
        `INSERT INTO \`run_rollups\` (\`span\`, \`bucket\`, \`job_id\`, \`project_id\`, \`status\`, \`runs\`) VALUES ('m', ${t}, 31, 13, 'SUCCEEDED', 4), ('m', ${t}, 32, 13, 'SUCCEEDED', 2)`,
      );
      await rollupMinutes.up(migration);
      assert.deepEqual(await key(), ['bucket', 'job_id', 'project_id', 'span', 'status']);
      // Run again, as after a cut-short run on MariaDB: nothing changes.
      await rollupMinutes.up(migration);
      const before = await ctx.driver.select("SELECT `job_id`, `runs` FROM `run_rollups` WHERE `span` = 'm' AND `bucket` = ? AND `job_id` > 30 ORDER BY `job_id`", [t]);
      assert.deepEqual(before.map((row) => [Number(row.job_id), Number(row.runs)]), [[31, 4], [32, 2]]);
      const later = newRun(job, new Date(t + 1_000));
      await writer.insert(later);
      await writer.update({ runId: later.runId, status: 'SUCCEEDED', startedAt: new Date(t + 1_010), endedAt: new Date(t + 1_020), run: later });
      await writer.flush();
      const series = await rollups.minutes({ projectIds: [13], minutesSince: new Date(t - 60_000) });
      assert.deepEqual(series.map((m) => [m.bucket, m.runs]), [[t, 7]]);
      assert.ok(await hasIndex(ctx.sequelize.getQueryInterface(), 'run_rollups', 'run_rollups_project'));
    });

    // The ends carry their runs (as dispatch sends them: summed from those facts, the script checking each row was not
    // final) or do not (the store reads the rows that are not final first); sent again, they go the second way.
    for (const carried of [false, true]) {
    test(`each run adds its bucket to the millisecond, its duration and its lag (ends ${carried ? 'with' : 'without'} their runs)`, async () => {
      // Runs of one job over two hours, ended by updates (some setting startedAt, some not), inserted final, or ended
      // twice; the expected cells are summed here, run by run, the way the rollup is defined.
      const job = { id: carried ? 10 : 9, projectId: carried ? 6 : 5 };
      const lags = [0, 5, 6, 10, 11, 25, 49, 50, 99, 100, 101, 250, 499, 500, 999, 1_000, 4_999, 5_000, 5_001, 60_000];
      const boundary = T0 + HOUR; // 11:00:00.000: a run ending 1 ms before belongs to the 10 o'clock bucket.
      type Expect = { status: string; trigger: string; fired: number; started: number | null; ended: number | null };
      const expected: Expect[] = [];
      const inserts: ReturnType<typeof newRun>[] = [];
      const ends: { runId: string; status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT'; startedAt?: Date; endedAt: Date; run?: ReturnType<typeof newRun> }[] = [];
      lags.forEach((lag, i) => {
        const fired = boundary - 30_000 + i * 3_001;
        const started = fired + lag;
        const ended = i % 3 === 0 ? boundary - 1 : started + i * 7;
        const status = (['SUCCEEDED', 'FAILED', 'TIMED_OUT'] as const)[i % 3]!;
        const trigger = i % 4 === 3 ? 'MANUAL' : 'SCHEDULE';
        // Half the runs have their RUNNING row written with startedAt; the others get it with their end.
        const run = newRun(job, new Date(fired), { trigger, status: i % 2 ? 'RUNNING' : 'QUEUED', startedAt: i % 2 ? new Date(started) : null });
        inserts.push(run);
        ends.push({ runId: run.runId, status, endedAt: new Date(ended), ...(i % 2 ? {} : { startedAt: new Date(started) }), ...(carried ? { run } : {}) });
        expected.push({ status, trigger, fired, started, ended });
      });
      // Inserted final: a SKIPPED fire at the boundary exactly (no start: counted at its fire time), and one ended
      // before its start (a clock step): its duration counts as 0.
      const skipped = newRun(job, new Date(boundary), { status: 'SKIPPED', endedAt: null });
      const backwards = newRun(job, new Date(boundary + 10), { trigger: 'MANUAL', status: 'FAILED', startedAt: new Date(boundary + 500), endedAt: new Date(boundary + 400) });
      expected.push({ status: 'SKIPPED', trigger: 'SCHEDULE', fired: boundary, started: null, ended: null });
      expected.push({ status: 'FAILED', trigger: 'MANUAL', fired: boundary + 10, started: boundary + 500, ended: boundary + 400 });
      await sink.insertMany([...inserts, skipped, backwards]);
      await sink.updateMany(ends);
      // Every end sent again, one with another status: nothing more is counted.
      await sink.updateMany(ends.map((end) => ({ ...end, status: 'KILLED' as const })));

      const cells = new Map<string, Record<string, number>>();
      for (const run of expected) {
        const at = run.ended ?? run.started ?? run.fired;
        const dur = run.started !== null && run.ended !== null ? Math.max(0, run.ended - run.started) : null;
        const lag = run.trigger === 'SCHEDULE' && run.started !== null ? Math.max(0, run.started - run.fired) : null;
        for (const [span, size] of [['h', HOUR], ['m', 60_000]] as const) {
          const key = `${span} ${at - (at % size)} ${run.status}`;
          const cell = cells.get(key) ?? { runs: 0, dur_n: 0, dur_sum: 0, dur_max: 0, lag_n: 0, lag_sum: 0, lag_max: 0, ...Object.fromEntries(ROLLUP_LAG_COLUMNS.map((c) => [c, 0])) };
          cells.set(key, cell);
          cell.runs!++;
          if (dur !== null) Object.assign(cell, { dur_n: cell.dur_n! + 1, dur_sum: cell.dur_sum! + dur, dur_max: Math.max(cell.dur_max!, dur) });
          if (lag !== null) {
            Object.assign(cell, { lag_n: cell.lag_n! + 1, lag_sum: cell.lag_sum! + lag, lag_max: Math.max(cell.lag_max!, lag) });
            const slot = ROLLUP_LAG_BOUNDS.findIndex((bound) => lag <= bound);
            cell[ROLLUP_LAG_COLUMNS[slot === -1 ? ROLLUP_LAG_BOUNDS.length : slot]!]!++;
          }
        }
      }
      // Hour cells are the job's; minute cells its project's, with job 0 (migration 0011).
      const rows = await ctx.driver.select(
        "SELECT * FROM `run_rollups` WHERE (`span` = 'h' AND `job_id` = ?) OR (`span` = 'm' AND `project_id` = ? AND `job_id` = 0)",
        [job.id, job.projectId],
      );
      const actual = new Map(
        rows.map((row) => [
          `${String(row.span)} ${Number(row.bucket)} ${String(row.status)}`,
          Object.fromEntries(Object.keys(cells.values().next().value!).map((c) => [c, Number(row[c])])),
        ]),
      );
      assert.ok(rows.every((row) => Number(row.project_id) === job.projectId));
      assert.deepEqual(Object.fromEntries([...actual].sort()), Object.fromEntries([...cells].sort()));
      // The first end of each row stays: the ends sent again with another status changed nothing.
      const statuses = await ctx.driver.select('SELECT `status`, COUNT(*) AS n FROM `runs` WHERE `job_id` = ? GROUP BY `status`', [job.id]);
      assert.deepEqual(Object.fromEntries(statuses.map((row) => [String(row.status), Number(row.n)])), { SUCCEEDED: 7, FAILED: 8, TIMED_OUT: 6, SKIPPED: 1 });
    });
    }
  });
}
