/**
 * The console's dashboard reads run counts, durations and fire lag of the last 24 hours and the last hour. Read from
 * the runs table that is a scan of every run of the day (a million-row table on a busy host), so the final rows are
 * counted as they are written instead (store/run-rollups.ts), in the same transaction as the row: one row per
 * (span, bucket, job, status), span 'h' for hour buckets (the 24-hour view) and 'm' for minute buckets (the last
 * hour's series). Fire lag (startedAt − scheduledAt of SCHEDULE runs) keeps a sum, a maximum and a histogram of
 * ROLLUP_LAG_BOUNDS, which is what a per-minute p95 is read from.
 *
 * The failures list seeks the newest runs of each failed status: (status, scheduled_at, run_id) replaces the
 * (status) index, which could only find them all and sort them.
 */
import { DataTypes, type ModelAttributes } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';
import { hasIndex } from './0001-initial.js';

/** Upper bounds (ms, inclusive) of the lag histogram's buckets; the last bucket, lag_h9, takes the rest. */
export const ROLLUP_LAG_BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1_000, 5_000] as const;
export const ROLLUP_LAG_COLUMNS = Array.from({ length: ROLLUP_LAG_BOUNDS.length + 1 }, (_, i) => `lag_h${i}`);

/** The table's primary key as this migration made it (0011 adds project_id). */
export const ROLLUP_KEY_0008 = ['span', 'bucket', 'job_id', 'status'] as const;
/** The index the dashboard's reads of one project's cells go through. */
export const ROLLUP_PROJECT_INDEX = { name: 'run_rollups_project', fields: ['project_id', 'span', 'bucket'] };

const count = () => ({ type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 });
const ms = () => ({ type: DataTypes.DOUBLE, allowNull: false, defaultValue: 0 });

/**
 * The table's columns, with `key` as its primary key. Migration 0011 makes the table again with project_id in the key
 * (store/migrations/0011-rollup-minutes-by-project.ts): these columns are the table's, in this order, in both.
 */
export function rollupAttributes(key: readonly string[]): ModelAttributes {
  const keyed = (name: string) => (key.includes(name) ? { primaryKey: true } : {});
  return {
    span: { type: DataTypes.STRING(1), allowNull: false, ...keyed('span') },
    // The bucket's start, epoch ms.
    bucket: { type: DataTypes.BIGINT, allowNull: false, ...keyed('bucket') },
    job_id: { type: DataTypes.INTEGER, allowNull: false, ...keyed('job_id') },
    status: { type: DataTypes.STRING(12), allowNull: false, ...keyed('status') },
    project_id: { type: DataTypes.INTEGER, allowNull: false, ...keyed('project_id') },
    runs: count(),
    // Runs with both startedAt and endedAt, and their durations.
    dur_n: count(),
    dur_sum: ms(),
    dur_max: ms(),
    // SCHEDULE runs that started, and their lag behind the fire time.
    lag_n: count(),
    lag_sum: ms(),
    lag_max: ms(),
    ...Object.fromEntries(ROLLUP_LAG_COLUMNS.map((column) => [column, count()])),
  };
}

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  const qi = context.queryInterface;
  // CREATE TABLE IF NOT EXISTS: MariaDB DDL is not transactional, and a cut-short run is finished by the next one.
  await qi.createTable('run_rollups', rollupAttributes(ROLLUP_KEY_0008), context.traits.tableOptions);
  if (!(await hasIndex(qi, 'run_rollups', ROLLUP_PROJECT_INDEX.name))) {
    await qi.addIndex('run_rollups', ROLLUP_PROJECT_INDEX.fields, { name: ROLLUP_PROJECT_INDEX.name });
  }
  if (!(await hasIndex(qi, 'runs', 'runs_status_scheduled'))) {
    await qi.addIndex('runs', ['status', 'scheduled_at', 'run_id'], { name: 'runs_status_scheduled' });
  }
  if (await hasIndex(qi, 'runs', 'runs_status')) await qi.removeIndex('runs', 'runs_status');
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  const qi = context.queryInterface;
  await qi.addIndex('runs', ['status'], { name: 'runs_status' });
  await qi.removeIndex('runs', 'runs_status_scheduled');
  await qi.dropTable('run_rollups');
}
