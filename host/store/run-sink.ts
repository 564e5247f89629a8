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

/** Columns of a new run row, in the order insertMany writes them. */
const INSERT_COLUMNS = [
  'run_id', 'job_id', 'project_id', 'bundle_id', 'host', 'trigger_type', 'status', 'scheduled_at', 'fire_key', 'started_at',
  'ended_at', 'result', 'error', 'attempt', 'cpu_ms', 'peak_memory_mb', 'log_file', 'log_offset', 'log_length',
].map((column) => `\`${column}\``).join(', ');

/** fire_key is scheduledAt in ms for SCHEDULE runs; NULLs never collide, so other triggers are unconstrained. */
export function fireKey(run: RunRecord): number | null {
  return run.trigger === 'SCHEDULE' ? run.scheduledAt.getTime() : null;
}

export function createRunSink({ sequelize, traits, write }: StoreContext): RunSink {
  const literal = (field: UpdateField, value: unknown): unknown => {
    if (value instanceof Date) return traits.dateLiteral(value);
    if (field === 'error' && value !== null) return JSON.stringify(value);
    return value;
  };
  return {
    // One multi-row INSERT with placeholders: building a sequelize model per row (bulkCreate) cost more than the
    // write itself on the fire path, where a burst of a thousand rows is normal.
    async insertMany(runs) {
      const values: unknown[] = [];
      for (const run of runs) {
        const date = (d: Date | null): string | null => (d ? traits.dateLiteral(d) : null);
        values.push(
          run.runId, run.jobId, run.projectId, run.bundleId, run.host, run.trigger, run.status, date(run.scheduledAt),
          fireKey(run), date(run.startedAt), date(run.endedAt), run.result, run.error ? JSON.stringify(run.error) : null,
          run.attempt, run.cpuMs, run.peakMemoryMb, run.logFile, run.logOffset, run.logLength,
        );
      }
      const row = `(${INSERT_COLUMNS.split(', ').map(() => '?').join(', ')})`;
      const sql = `INSERT INTO \`runs\` (${INSERT_COLUMNS}) VALUES ${runs.map(() => row).join(', ')}`;
      await write(() => sequelize.query(sql, { replacements: values, type: QueryTypes.INSERT }));
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
