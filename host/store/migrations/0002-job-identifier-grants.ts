/**
 * Resolver sub-jobs carry the resolver's identifierCode (a change forces an update), and isolate jobs carry what
 * they are granted (e.g. a host-performed fetch).
 */
import { DataTypes } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';

async function hasColumn(context: MigrationContext, table: string, column: string): Promise<boolean> {
  const description = await context.queryInterface.describeTable(table);
  return column in description;
}

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  // MariaDB DDL is not transactional: skip what a cut-short run already added.
  if (!(await hasColumn(context, 'jobs', 'identifier_code'))) {
    await context.queryInterface.addColumn('jobs', 'identifier_code', { type: DataTypes.STRING(200), allowNull: true });
  }
  if (!(await hasColumn(context, 'jobs', 'grants'))) {
    await context.queryInterface.addColumn('jobs', 'grants', { type: DataTypes.JSON, allowNull: true });
  }
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  await context.queryInterface.removeColumn('jobs', 'grants');
  await context.queryInterface.removeColumn('jobs', 'identifier_code');
}
