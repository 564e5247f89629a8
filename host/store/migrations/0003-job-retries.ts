/** Jobs may retry a failed run: `{ count, backoff: { type, delayMs, maxDelayMs? } }`. */
import { DataTypes } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  const columns = await context.queryInterface.describeTable('jobs');
  // MariaDB DDL is not transactional: skip what a cut-short run already added.
  if (!('retries' in columns)) await context.queryInterface.addColumn('jobs', 'retries', { type: DataTypes.JSON, allowNull: true });
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  await context.queryInterface.removeColumn('jobs', 'retries');
}
