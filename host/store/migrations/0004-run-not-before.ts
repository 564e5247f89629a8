/**
 * A run row may wait for a time: `not_before`, set on a retry waiting for its backoff, so a stop keeps it and a
 * restart runs it; and `params`, a run's own params (a manual trigger's, kept by its retries), when not the job's.
 */
import { DataTypes } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  const columns = await context.queryInterface.describeTable('runs');
  // MariaDB DDL is not transactional: skip what a cut-short run already added.
  if (!('not_before' in columns)) await context.queryInterface.addColumn('runs', 'not_before', { type: DataTypes.DATE(3), allowNull: true });
  if (!('params' in columns)) await context.queryInterface.addColumn('runs', 'params', { type: DataTypes.JSON, allowNull: true });
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  await context.queryInterface.removeColumn('runs', 'params');
  await context.queryInterface.removeColumn('runs', 'not_before');
}
