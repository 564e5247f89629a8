/**
 * The SQL side of the run writer: one multi-row INSERT per batch of new runs, one UPDATE … CASE per batch of
 * changes. Updates cannot be upserts: an INSERT … ON CONFLICT row must satisfy NOT NULL before the conflict is seen,
 * and an update carries only the columns that changed.
 */
import { QueryTypes, UniqueConstraintError } from 'sequelize';
import type { StoreContext } from './context.js';
import type { RunRecord, RunUpdate } from './types.js';

export interface RunSink {
  insertMany(runs: RunRecord[]): Promise<void>;
  updateMany(updates: RunUpdate[]): Promise<void>;
  isUniqueViolation(err: unknown): boolean;
  /** The violation is UNIQUE(job_id, fire_key): a second run for one fire time. */
  isFireConflict(err: unknown): boolean;
}

type UpdateField = Exclude<keyof RunUpdate, 'runId'>;

const UPDATE_COLUMNS: Record<UpdateField, string> = {
  status: 'status',
  bundleId: 'bundle_id',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  result: 'result',
  error: 'error',
  cpuMs: 'cpu_ms',
  peakMemoryMb: 'peak_memory_mb',
  logFile: 'log_file',
  logOffset: 'log_offset',
  logLength: 'log_length',
};

/** fire_key is scheduledAt in ms for SCHEDULE runs; NULLs never collide, so other triggers are unconstrained. */
export function fireKey(run: RunRecord): number | null {
  return run.trigger === 'SCHEDULE' ? run.scheduledAt.getTime() : null;
}

export function createRunSink({ sequelize, models: { Run }, traits, write }: StoreContext): RunSink {
  const literal = (field: UpdateField, value: unknown): unknown => {
    if (value instanceof Date) return traits.dateLiteral(value);
    if (field === 'error' && value !== null) return JSON.stringify(value);
    return value;
  };
  return {
    async insertMany(runs) {
      const rows = runs.map((run) => ({ ...run, fireKey: fireKey(run) }));
      await write(() => Run.bulkCreate(rows, { validate: false, hooks: false }));
    },
    async updateMany(updates) {
      const sets: string[] = [];
      const values: unknown[] = [];
      for (const [field, column] of Object.entries(UPDATE_COLUMNS) as [UpdateField, string][]) {
        const touching = updates.filter((update) => update[field] !== undefined);
        if (touching.length === 0) continue;
        const whens = touching.map(() => 'WHEN ? THEN ?').join(' ');
        sets.push(`\`${column}\` = CASE \`run_id\` ${whens} ELSE \`${column}\` END`);
        for (const update of touching) values.push(update.runId, literal(field, update[field]));
      }
      values.push(...updates.map((update) => update.runId));
      const list = updates.map(() => '?').join(', ');
      const sql = `UPDATE \`runs\` SET ${sets.join(', ')} WHERE \`run_id\` IN (${list})`;
      await write(() => sequelize.query(sql, { replacements: values, type: QueryTypes.UPDATE }));
    },
    isUniqueViolation: (err) => err instanceof UniqueConstraintError,
    isFireConflict(err) {
      if (!(err instanceof UniqueConstraintError)) return false;
      // SQLite: "UNIQUE constraint failed: runs.job_id, runs.fire_key"; MySQL: "… for key 'runs_job_fire_key'".
      const parent = (err as { parent?: { message?: string } }).parent;
      return `${parent?.message ?? ''} ${JSON.stringify(err.fields ?? {})}`.includes('fire_key');
    },
  };
}
