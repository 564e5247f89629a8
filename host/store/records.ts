/**
 * Rows → records. Drivers differ in how they hand back BIGINT (number or string), BOOLEAN (0/1) and aggregate dates
 * (string on SQLite, Date on MySQL); everything is normalised here so records look the same on both dialects.
 */
import type { Model } from 'sequelize';
import type { Row } from './models.js';
import type { BundleRecord, JobEventRecord, JobRecord, JobSchedule, ProjectRecord, RunRecord, TokenRecord, UserRecord } from '../domain/index.js';

export function plain(model: Model<Row, Row>): Row {
  return model.get({ plain: true }) as Row;
}

export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function toDate(value: unknown): Date {
  if (value instanceof Date) return value;
  // SQLite aggregates return the stored text, e.g. '2024-01-02 03:04:05.678 +00:00'.
  return new Date(String(value));
}

export function dateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : toDate(value);
}

function strOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

export function toUser(r: Row): UserRecord {
  return {
    id: num(r.id),
    username: String(r.username),
    passwordHash: String(r.passwordHash),
    role: r.role as UserRecord['role'],
    disabled: Boolean(r.disabled),
    createdAt: toDate(r.createdAt),
    lastLoginAt: dateOrNull(r.lastLoginAt),
  };
}

export function toToken(r: Row): TokenRecord {
  return {
    id: num(r.id),
    userId: num(r.userId),
    name: String(r.name),
    tokenHash: String(r.tokenHash),
    kind: r.kind as TokenRecord['kind'],
    expiresAt: dateOrNull(r.expiresAt),
    createdAt: toDate(r.createdAt),
    lastUsedAt: dateOrNull(r.lastUsedAt),
  };
}

/** The columns a start-up schedules a job from (see JobRepo.listSchedules). */
export function toJobSchedule(r: Record<string, unknown>): JobSchedule {
  return {
    id: num(r.id),
    projectId: num(r.projectId),
    state: r.state as JobRecord['state'],
    schedule: r.schedule as JobRecord['schedule'],
    anchorAt: dateOrNull(r.anchorAt),
    misfire: r.misfire as JobRecord['misfire'],
  };
}

export function toProject(r: Row): ProjectRecord {
  return {
    id: num(r.id),
    name: String(r.name),
    description: String(r.description ?? ''),
    ownerId: num(r.ownerId),
    currentBundleId: numOrNull(r.currentBundleId),
    trusted: Boolean(r.trusted),
    createdAt: toDate(r.createdAt),
    updatedAt: toDate(r.updatedAt),
  };
}

export function toBundle(r: Row): BundleRecord {
  return {
    id: num(r.id),
    projectId: num(r.projectId),
    version: num(r.version),
    sha256: String(r.sha256),
    size: num(r.size),
    manifest: r.manifest as BundleRecord['manifest'],
    exports: r.exports as BundleRecord['exports'],
    dir: String(r.dir),
    createdBy: numOrNull(r.createdBy),
    createdAt: toDate(r.createdAt),
  };
}

export function toJob(r: Row): JobRecord {
  return {
    // id, projectId, state, schedule, anchorAt and misfire: read as a start-up reads them.
    ...toJobSchedule(r),
    name: String(r.name),
    kind: r.kind as JobRecord['kind'],
    entry: r.entry as JobRecord['entry'],
    params: r.params ?? null,
    configFile: strOrNull(r.configFile),
    profile: strOrNull(r.profile),
    config: (r.config ?? {}) as JobRecord['config'],
    concurrency: r.concurrency as JobRecord['concurrency'],
    maxQueue: num(r.maxQueue),
    timeoutMs: numOrNull(r.timeoutMs),
    memoryLimitMb: numOrNull(r.memoryLimitMb),
    onInterrupt: r.onInterrupt as JobRecord['onInterrupt'],
    shell: Boolean(r.shell),
    resolverId: numOrNull(r.resolverId),
    identifierCode: strOrNull(r.identifierCode),
    grants: (r.grants ?? null) as JobRecord['grants'],
    retries: (r.retries ?? null) as JobRecord['retries'],
    disabled: Boolean(r.disabled),
    ownerId: numOrNull(r.ownerId),
    createdAt: toDate(r.createdAt),
    updatedAt: toDate(r.updatedAt),
  };
}

export function toRun(r: Row): RunRecord {
  return {
    runId: String(r.runId),
    jobId: num(r.jobId),
    projectId: num(r.projectId),
    bundleId: numOrNull(r.bundleId),
    host: String(r.host),
    trigger: r.trigger as RunRecord['trigger'],
    status: r.status as RunRecord['status'],
    scheduledAt: toDate(r.scheduledAt),
    startedAt: dateOrNull(r.startedAt),
    endedAt: dateOrNull(r.endedAt),
    result: strOrNull(r.result),
    error: (r.error ?? null) as RunRecord['error'],
    attempt: num(r.attempt),
    cpuMs: numOrNull(r.cpuMs),
    peakMemoryMb: numOrNull(r.peakMemoryMb),
    logFile: strOrNull(r.logFile),
    logOffset: numOrNull(r.logOffset),
    logLength: numOrNull(r.logLength),
    notBefore: dateOrNull(r.notBefore),
    params: r.params ?? null,
  };
}

export function toEvent(r: Row): JobEventRecord {
  return {
    id: num(r.id),
    entity: r.entity as JobEventRecord['entity'],
    entityId: numOrNull(r.entityId),
    jobId: num(r.jobId),
    projectId: num(r.projectId),
    userId: numOrNull(r.userId),
    action: r.action as JobEventRecord['action'],
    actor: String(r.actor),
    details: (r.details ?? null) as JobEventRecord['details'],
    at: toDate(r.at),
  };
}
