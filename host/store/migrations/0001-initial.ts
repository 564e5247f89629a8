/**
 * The first schema. Dates are DATE(3) (DATETIME(3) on MySQL) because fire times need milliseconds; JSON columns are
 * longtext with a json_valid check on MariaDB. No foreign keys: projects.delete cascades in one transaction itself,
 * so both dialects behave the same.
 */
import { DataTypes } from 'sequelize';
import type { ModelAttributes, QueryInterface } from 'sequelize';
import type { MigrationParams } from 'umzug';
import type { MigrationContext } from './context.js';

const id = () => ({ type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true, allowNull: false });
const ref = (allowNull = false) => ({ type: DataTypes.INTEGER, allowNull });
const date = (allowNull = false) => ({ type: DataTypes.DATE(3), allowNull });
const str = (length: number, allowNull = false) => ({ type: DataTypes.STRING(length), allowNull });
const json = (allowNull = true) => ({ type: DataTypes.JSON, allowNull });

function tables(context: MigrationContext): Record<string, ModelAttributes> {
  return {
    users: {
      id: id(),
      username: str(100),
      password_hash: str(255),
      role: str(20),
      disabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      created_at: date(),
      last_login_at: date(true),
    },
    api_tokens: {
      id: id(),
      user_id: ref(),
      name: str(100),
      token_hash: str(64),
      kind: str(10),
      expires_at: date(true),
      created_at: date(),
      last_used_at: date(true),
    },
    projects: {
      id: id(),
      name: str(100),
      description: { type: DataTypes.TEXT, allowNull: false },
      owner_id: ref(),
      current_bundle_id: ref(true),
      created_at: date(),
      updated_at: date(),
    },
    bundles: {
      id: id(),
      project_id: ref(),
      version: { type: DataTypes.INTEGER, allowNull: false },
      sha256: str(64),
      size: { type: DataTypes.BIGINT, allowNull: false },
      manifest: json(false),
      exports: json(false),
      dir: { type: DataTypes.TEXT, allowNull: false },
      created_by: ref(true),
      created_at: date(),
    },
    jobs: {
      id: id(),
      project_id: ref(),
      name: str(200),
      kind: str(20),
      entry: json(false),
      params: json(),
      config_file: str(255, true),
      profile: str(100, true),
      config: json(false),
      schedule: json(false),
      concurrency: str(10),
      max_queue: { type: DataTypes.INTEGER, allowNull: false },
      timeout_ms: { type: DataTypes.BIGINT, allowNull: true },
      memory_limit_mb: { type: DataTypes.INTEGER, allowNull: true },
      misfire: str(10),
      on_interrupt: str(10),
      shell: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      state: str(10),
      anchor_at: date(true),
      resolver_id: ref(true),
      disabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      owner_id: ref(true),
      created_at: date(),
      updated_at: date(),
    },
    runs: {
      run_id: { type: DataTypes.STRING(36), primaryKey: true, allowNull: false },
      job_id: ref(),
      project_id: ref(),
      bundle_id: ref(true),
      host: str(255),
      // `trigger` is a reserved word in MySQL.
      trigger_type: str(10),
      status: str(12),
      scheduled_at: date(),
      // scheduledAt in ms for SCHEDULE runs, NULL otherwise: UNIQUE(job_id, fire_key) makes a duplicate tick harmless.
      fire_key: { type: DataTypes.BIGINT, allowNull: true },
      started_at: date(true),
      ended_at: date(true),
      result: { type: context.traits.longTextType, allowNull: true },
      error: json(),
      attempt: { type: DataTypes.INTEGER, allowNull: false },
      cpu_ms: { type: DataTypes.DOUBLE, allowNull: true },
      peak_memory_mb: { type: DataTypes.DOUBLE, allowNull: true },
      log_file: { type: DataTypes.TEXT, allowNull: true },
      log_offset: { type: DataTypes.BIGINT, allowNull: true },
      log_length: { type: DataTypes.BIGINT, allowNull: true },
    },
    job_events: {
      id: id(),
      job_id: ref(),
      project_id: ref(),
      action: str(20),
      actor: str(100),
      details: json(),
      at: date(),
    },
    job_cache: {
      job_id: { type: DataTypes.INTEGER, primaryKey: true, allowNull: false },
      cache_key: { type: DataTypes.STRING(255), primaryKey: true, allowNull: false },
      value: { type: DataTypes.BLOB('long'), allowNull: false },
      expires_at: date(true),
      updated_at: date(),
    },
  };
}

const INDEXES: { table: string; fields: string[]; unique?: boolean; name: string }[] = [
  { table: 'users', fields: ['username'], unique: true, name: 'users_username' },
  { table: 'api_tokens', fields: ['token_hash'], unique: true, name: 'api_tokens_hash' },
  { table: 'api_tokens', fields: ['user_id'], name: 'api_tokens_user' },
  { table: 'projects', fields: ['name'], unique: true, name: 'projects_name' },
  { table: 'bundles', fields: ['project_id', 'version'], unique: true, name: 'bundles_project_version' },
  { table: 'jobs', fields: ['project_id', 'name'], unique: true, name: 'jobs_project_name' },
  { table: 'jobs', fields: ['resolver_id'], name: 'jobs_resolver' },
  { table: 'runs', fields: ['job_id', 'fire_key'], unique: true, name: 'runs_job_fire_key' },
  { table: 'runs', fields: ['scheduled_at', 'run_id'], name: 'runs_scheduled' },
  { table: 'runs', fields: ['job_id', 'scheduled_at'], name: 'runs_job_scheduled' },
  { table: 'runs', fields: ['project_id', 'scheduled_at'], name: 'runs_project_scheduled' },
  { table: 'runs', fields: ['status'], name: 'runs_status' },
  { table: 'job_events', fields: ['job_id', 'at'], name: 'job_events_job' },
  { table: 'job_events', fields: ['project_id', 'at'], name: 'job_events_project' },
];

export async function up({ context }: MigrationParams<MigrationContext>): Promise<void> {
  const qi: QueryInterface = context.queryInterface;
  for (const [table, attributes] of Object.entries(tables(context))) {
    await qi.createTable(table, attributes, context.traits.tableOptions);
  }
  // MariaDB DDL is not transactional: a run cut short is finished by the next one, so skip what exists.
  for (const index of INDEXES) {
    if (await hasIndex(qi, index.table, index.name)) continue;
    await qi.addIndex(index.table, index.fields, { name: index.name, unique: index.unique ?? false });
  }
}

export async function hasIndex(qi: QueryInterface, table: string, name: string): Promise<boolean> {
  const indexes = (await qi.showIndex(table)) as { name?: string; Key_name?: string }[];
  return indexes.some((index) => (index.name ?? index.Key_name) === name);
}

export async function down({ context }: MigrationParams<MigrationContext>): Promise<void> {
  for (const table of Object.keys(tables(context)).reverse()) await context.queryInterface.dropTable(table);
}
