/**
 * The dashboard reads minute cells per project only (the last hour's series, store/run-rollups.ts `minutes`), so a
 * run's minute is now counted in one cell per (minute, project, status), with job_id 0, instead of one per job: a
 * batch of ends of a thousand jobs upserts a thousand and one cells instead of two thousand. Hour cells stay per job
 * (the 24-hour figures name the slowest jobs). For that, project_id joins the table's primary key: (span, bucket,
 * project_id, job_id, status). Job ids start at 1, so 0 is no job's.
 *
 * The cells written before stay as they are: the minute series sums every cell of a project's minute, whichever job
 * it names, and each run is in one of them. A host of an earlier version writing beside this one (MariaDB) still adds
 * per-job minute cells, which the series counts too.
 */
import { QueryTypes } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';
import { ROLLUP_KEY_0008, ROLLUP_PROJECT_INDEX, rollupAttributes } from './0008-run-rollups.js';

/** The primary key of `run_rollups` from this migration on, and the key of the rollup upsert. */
export const ROLLUP_KEY = ['span', 'bucket', 'project_id', 'job_id', 'status'] as const;

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  await setKey(context, ROLLUP_KEY);
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  // The old key cannot hold a minute cell per project (two projects' cells of one minute and status would collide):
  // they are dropped, and the last hour's series loses the minutes this version counted.
  await context.queryInterface.sequelize.query("DELETE FROM `run_rollups` WHERE `span` = 'm' AND `job_id` = 0");
  await setKey(context, ROLLUP_KEY_0008);
}

async function setKey({ queryInterface: qi, traits }: MigrationContext, key: readonly string[]): Promise<void> {
  const columns = await qi.describeTable('run_rollups');
  const current = Object.keys(columns).filter((name) => columns[name]!.primaryKey);
  // MariaDB DDL is not transactional: a cut-short run may have changed the key already.
  if (current.length === key.length && key.every((name) => current.includes(name))) return;
  const list = key.map((name) => `\`${name}\``).join(', ');
  if (traits.dialect === 'mysql') {
    // One statement: the table never stands without a key.
    await qi.sequelize.query(`ALTER TABLE \`run_rollups\` DROP PRIMARY KEY, ADD PRIMARY KEY (${list})`);
    return;
  }
  // SQLite cannot change a table's primary key: the table is made again, in one transaction (SQLite's DDL is).
  const names = Object.keys(rollupAttributes(key)).map((name) => `\`${name}\``).join(', ');
  await qi.sequelize.transaction(async (transaction) => {
    await qi.createTable('run_rollups_next', rollupAttributes(key), { ...traits.tableOptions, transaction });
    await qi.sequelize.query(`INSERT INTO \`run_rollups_next\` (${names}) SELECT ${names} FROM \`run_rollups\``, { transaction, type: QueryTypes.INSERT });
    await qi.sequelize.query('DROP TABLE `run_rollups`', { transaction });
    await qi.sequelize.query('ALTER TABLE `run_rollups_next` RENAME TO `run_rollups`', { transaction });
    // The index went with the old table (SQLite's index names are the database's: it could not be made before).
    await qi.addIndex('run_rollups', ROLLUP_PROJECT_INDEX.fields, { name: ROLLUP_PROJECT_INDEX.name, transaction });
  });
}
