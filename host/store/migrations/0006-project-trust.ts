/**
 * Projects carry `trusted`: only a trusted project may run thread, module or exec code, which runs as the host's
 * user (docs/isolation.md, "Trust"). New projects start untrusted; an admin marks them.
 *
 * An upgrade breaks nobody: every project that already holds a bundle or a job of a kind other than isolate becomes
 * trusted here (someone set it up to run such code before trust existed). Projects that hold only isolate bundles and
 * jobs, or nothing, stay untrusted: they lose nothing.
 */
import { DataTypes, QueryTypes } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  const qi = context.queryInterface;
  const columns = await qi.describeTable('projects');
  // MariaDB DDL is not transactional: skip what a cut-short run already added (the marking below is idempotent).
  if (!('trusted' in columns)) await qi.addColumn('projects', 'trusted', { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false });
  const ids = new Set<number>();
  const jobs = await qi.sequelize.query<{ project_id: unknown }>("SELECT DISTINCT project_id FROM jobs WHERE kind <> 'isolate'", { type: QueryTypes.SELECT });
  for (const row of jobs) ids.add(Number(row.project_id));
  // The kind sits in the manifest's JSON, whose functions differ by dialect: read it here (a bundle row is small).
  const bundles = await qi.sequelize.query<{ project_id: unknown; manifest: unknown }>('SELECT project_id, manifest FROM bundles', { type: QueryTypes.SELECT });
  for (const row of bundles) if (manifestKind(row.manifest) !== 'isolate') ids.add(Number(row.project_id));
  if (ids.size > 0) await qi.bulkUpdate('projects', { trusted: true }, { id: [...ids] });
}

function manifestKind(manifest: unknown): unknown {
  try {
    const parsed: unknown = typeof manifest === 'string' ? JSON.parse(manifest) : manifest;
    return typeof parsed === 'object' && parsed !== null ? (parsed as { kind?: unknown }).kind : undefined;
  } catch {
    // A manifest that cannot be read is not known to be isolate: trusting its project keeps it running as before.
    return undefined;
  }
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  await context.queryInterface.removeColumn('projects', 'trusted');
}
