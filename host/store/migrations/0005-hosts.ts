/**
 * The hosts table: one row per host id, holding that host's lease on the database, judged by the database's clock.
 * Single-host mode keeps at most one live lease in it; cluster mode grows it into the membership table (each host
 * renews its own row, survivors reap the expired ones; reference/cluster-design.md §5).
 */
import { DataTypes } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';

const date = () => ({ type: DataTypes.DATE(3), allowNull: false });

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  // CREATE TABLE IF NOT EXISTS: MariaDB DDL is not transactional, and a cut-short run is finished by the next one.
  await context.queryInterface.createTable(
    'hosts',
    {
      host_id: { type: DataTypes.STRING(255), primaryKey: true, allowNull: false },
      // Random per start, so two processes given one host id are told apart.
      instance: { type: DataTypes.STRING(36), allowNull: false },
      // The database's lease generation when this instance took its lease: a later holder has a higher one.
      epoch: { type: DataTypes.BIGINT, allowNull: false },
      // ACTIVE while held; STOPPED after a clean stop; DEAD once another host took over the expired lease.
      state: { type: DataTypes.STRING(10), allowNull: false },
      lease_until: date(),
      heartbeat_at: date(),
      started_at: date(),
      pid: { type: DataTypes.INTEGER, allowNull: false },
      hostname: { type: DataTypes.STRING(255), allowNull: false },
      version: { type: DataTypes.STRING(50), allowNull: false },
      data_dir: { type: DataTypes.TEXT, allowNull: false },
    },
    context.traits.tableOptions,
  );
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  await context.queryInterface.dropTable('hosts');
}
