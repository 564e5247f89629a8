/**
 * Sequelize models over the tables of the migrations. Attributes are camelCase, columns snake_case (underscored).
 * The models are only used inside host/store; the repositories hand out plain records.
 */
import { DataTypes } from 'sequelize';
import type { Model, ModelAttributes, ModelStatic, Sequelize } from 'sequelize';

/** A row as sequelize gives it back: column values by attribute name. */
export type Row = Record<string, unknown>;
export type RowModel = ModelStatic<Model<Row, Row>>;

export interface Models {
  User: RowModel;
  Token: RowModel;
  Project: RowModel;
  Bundle: RowModel;
  Job: RowModel;
  Run: RowModel;
  Event: RowModel;
  Cache: RowModel;
  Host: RowModel;
}

// Sequelize writes into attribute definitions, so every attribute gets a fresh object.
const id = () => ({ type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true });
const int = () => ({ type: DataTypes.INTEGER });
const big = () => ({ type: DataTypes.BIGINT });
const date = () => ({ type: DataTypes.DATE(3) });
const str = () => ({ type: DataTypes.STRING });
const text = () => ({ type: DataTypes.TEXT });
const json = () => ({ type: DataTypes.JSON });
const bool = () => ({ type: DataTypes.BOOLEAN });

function definitions(): Record<keyof Models, [table: string, attributes: ModelAttributes]> {
  return {
    User: ['users', { id: id(), username: str(), passwordHash: str(), role: str(), disabled: bool(), createdAt: date(), lastLoginAt: date() }],
    Token: [
      'api_tokens',
      { id: id(), userId: int(), name: str(), tokenHash: str(), kind: str(), expiresAt: date(), createdAt: date(), lastUsedAt: date() },
    ],
    Project: [
      'projects',
      { id: id(), name: str(), description: text(), ownerId: int(), currentBundleId: int(), trusted: bool(), createdAt: date(), updatedAt: date() },
    ],
    Bundle: [
      'bundles',
      {
        id: id(), projectId: int(), version: int(), sha256: str(), size: big(), manifest: json(), exports: json(), dir: text(),
        createdBy: int(), createdAt: date(),
      },
    ],
    Job: [
      'jobs',
      {
        id: id(), projectId: int(), name: str(), kind: str(), entry: json(), params: json(), configFile: str(), profile: str(),
        config: json(), schedule: json(), concurrency: str(), maxQueue: int(), timeoutMs: big(), memoryLimitMb: int(),
        misfire: str(), onInterrupt: str(), shell: bool(), state: str(), anchorAt: date(), resolverId: int(), disabled: bool(),
        identifierCode: str(), grants: json(), retries: json(),
        ownerId: int(), createdAt: date(), updatedAt: date(),
      },
    ],
    Run: [
      'runs',
      {
        runId: { type: DataTypes.STRING(36), primaryKey: true }, jobId: int(), projectId: int(), bundleId: int(), host: str(),
        trigger: { type: DataTypes.STRING, field: 'trigger_type' }, status: str(), scheduledAt: date(), fireKey: big(),
        startedAt: date(), endedAt: date(), result: text(), error: json(), attempt: int(), cpuMs: { type: DataTypes.DOUBLE },
        peakMemoryMb: { type: DataTypes.DOUBLE }, logFile: text(), logOffset: big(), logLength: big(), notBefore: date(), params: json(),
      },
    ],
    Event: [
      'job_events',
      { id: id(), entity: str(), entityId: int(), jobId: int(), projectId: int(), userId: int(), action: str(), actor: str(), details: json(), at: date() },
    ],
    Cache: [
      'job_cache',
      {
        jobId: { type: DataTypes.INTEGER, primaryKey: true }, key: { type: DataTypes.STRING, primaryKey: true, field: 'cache_key' },
        value: { type: DataTypes.BLOB('long') }, expiresAt: date(), updatedAt: date(),
      },
    ],
    Host: [
      'hosts',
      {
        hostId: { type: DataTypes.STRING, primaryKey: true }, instance: str(), epoch: big(), state: str(), leaseUntil: date(),
        heartbeatAt: date(), startedAt: date(), pid: int(), hostname: str(), version: str(), dataDir: text(),
      },
    ],
  };
}

/**
 * Each model is defined on its first use: `sequelize.define` costs ~0.4 ms a model (4 ms of every store's open for
 * all nine), and a start uses two of them (most per-run and per-request paths go through the driver). A repository
 * may hold a model from the start: what it holds defines the real one when a property is first read, and hands out
 * the real one's properties (its methods bound to it).
 */
export function defineModels(sequelize: Sequelize): Models {
  const models = {} as Record<keyof Models, RowModel>;
  for (const [name, [tableName, attributes]] of Object.entries(definitions()) as [keyof Models, [string, ModelAttributes]][]) {
    let real: RowModel | null = null;
    const model = (): RowModel => (real ??= sequelize.define(name, attributes, { tableName }) as RowModel);
    models[name] = new Proxy({} as RowModel, {
      get(_target, property) {
        const target = model();
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
  return models;
}
