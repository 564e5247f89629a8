/**
 * The runs list filters by trigger (SCHEDULE, MANUAL, RETRY, RECOVERY): (trigger_type, scheduled_at, run_id) serves
 * it newest first without reading the other triggers' rows (with a million runs, MANUAL ones are a few among the
 * scheduled). The price is one more index to keep on every run insert.
 */
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';
import { hasIndex } from './0001-initial.js';

const NAME = 'runs_trigger_scheduled';

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  // MariaDB DDL is not transactional: a cut-short run may have made it already.
  if (await hasIndex(context.queryInterface, 'runs', NAME)) return;
  await context.queryInterface.addIndex('runs', ['trigger_type', 'scheduled_at', 'run_id'], { name: NAME });
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  await context.queryInterface.removeIndex('runs', NAME);
}
