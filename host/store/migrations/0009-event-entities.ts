/**
 * The audit trail covers every entity, not only jobs: each event names its `entity` (job, project, bundle, user,
 * session, token) and `entity_id`, and `user_id` names the account an account event is about (who may read it: that
 * user and admins). Events about accounts have project_id and job_id 0. Existing rows become job events, or project
 * events where job_id is 0 (the trust and activation events of the projects themselves).
 *
 * The list pages by id (keyset, newest first): the (job_id, at) and (project_id, at) indexes become (…, id), and
 * (entity, entity_id, id), (user_id, id), (actor, id) serve the new filters.
 */
import { DataTypes } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';
import { hasIndex } from './0001-initial.js';

const INDEXES: { name: string; fields: string[] }[] = [
  { name: 'job_events_job_id', fields: ['job_id', 'id'] },
  { name: 'job_events_project_id', fields: ['project_id', 'id'] },
  { name: 'job_events_entity', fields: ['entity', 'entity_id', 'id'] },
  { name: 'job_events_user', fields: ['user_id', 'id'] },
  { name: 'job_events_actor', fields: ['actor', 'id'] },
];

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  const qi = context.queryInterface;
  const columns = await qi.describeTable('job_events');
  // MariaDB DDL is not transactional: skip what a cut-short run already did (the updates below are idempotent).
  if (!('entity' in columns)) await qi.addColumn('job_events', 'entity', { type: DataTypes.STRING(10), allowNull: false, defaultValue: 'job' });
  if (!('entity_id' in columns)) await qi.addColumn('job_events', 'entity_id', { type: DataTypes.INTEGER, allowNull: true });
  if (!('user_id' in columns)) await qi.addColumn('job_events', 'user_id', { type: DataTypes.INTEGER, allowNull: true });
  await qi.sequelize.query("UPDATE job_events SET entity = 'project', entity_id = project_id WHERE job_id = 0 AND entity_id IS NULL");
  await qi.sequelize.query('UPDATE job_events SET entity_id = job_id WHERE job_id <> 0 AND entity_id IS NULL');
  for (const index of INDEXES) {
    if (!(await hasIndex(qi, 'job_events', index.name))) await qi.addIndex('job_events', index.fields, { name: index.name });
  }
  for (const old of ['job_events_job', 'job_events_project']) if (await hasIndex(qi, 'job_events', old)) await qi.removeIndex('job_events', old);
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  const qi = context.queryInterface;
  await qi.addIndex('job_events', ['job_id', 'at'], { name: 'job_events_job' });
  await qi.addIndex('job_events', ['project_id', 'at'], { name: 'job_events_project' });
  for (const index of INDEXES) await qi.removeIndex('job_events', index.name);
  for (const column of ['user_id', 'entity_id', 'entity']) await qi.removeColumn('job_events', column);
}
