/**
 * The job list shows each job's run counts by status (GROUP BY job, status over a page of jobs). Over the
 * (job_id, scheduled_at) index that read every run row for its status: 4 s for a page of 100 jobs with 1,000,000
 * runs on SQLite. Over (job_id, status, scheduled_at) the counts come from the index alone: 0.17 s. The price is one
 * more index to keep on every run insert and status change.
 */
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';
import { hasIndex } from './0001-initial.js';

const NAME = 'runs_job_status';

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  // MariaDB DDL is not transactional: a cut-short run may have made it already.
  if (await hasIndex(context.queryInterface, 'runs', NAME)) return;
  await context.queryInterface.addIndex('runs', ['job_id', 'status', 'scheduled_at'], { name: NAME });
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  await context.queryInterface.removeIndex('runs', NAME);
}
