/**
 * The SQL side of the run writer, sent on the driver connection (driver.ts): one multi-row INSERT per batch of new
 * runs, one UPDATE joined to the batch's values per shape of change. Updates cannot be upserts: an INSERT … ON
 * CONFLICT row must satisfy NOT NULL before the conflict is seen, and an update carries only the columns that changed.
 */
import { UniqueConstraintError } from 'sequelize';
import type { DialectTraits } from './capabilities.js';
import type { StoreContext } from './context.js';
import { FINAL_RUN_STATUSES, type RunRecord, type RunUpdate } from '../domain/index.js';
import { isFinalStatus, rollupUpsert, type RollupFact } from './run-rollups.js';
import { RowCountMismatch } from './driver.js';
import { num, numOrNull } from './records.js';

export interface RunSink {
  insertMany(runs: RunRecord[]): Promise<void>;
  updateMany(updates: RunUpdate[]): Promise<void>;
  isUniqueViolation(err: unknown): boolean;
  /** The violation is UNIQUE(job_id, fire_key): a second run for one fire time. */
  isFireConflict(err: unknown): boolean;
  /** The violation is the primary key: the row of this run is there already (an insert sent again). */
  isRunIdConflict(err: unknown): boolean;
}

type UpdateField = Exclude<keyof RunUpdate, 'runId'>;

/**
 * What an update may set, the column each goes to, and a reader of its value: `update[field]` with the field as a
 * variable was a megamorphic keyed load, 11 to 23 of them per run (perf record of a burst).
 */
const UPDATE_FIELDS: readonly (readonly [UpdateField, string, (update: RunUpdate) => unknown])[] = [
  ['status', 'status', (u) => u.status],
  ['bundleId', 'bundle_id', (u) => u.bundleId],
  ['startedAt', 'started_at', (u) => u.startedAt],
  ['endedAt', 'ended_at', (u) => u.endedAt],
  ['result', 'result', (u) => u.result],
  ['error', 'error', (u) => u.error],
  ['cpuMs', 'cpu_ms', (u) => u.cpuMs],
  ['peakMemoryMb', 'peak_memory_mb', (u) => u.peakMemoryMb],
  ['logFile', 'log_file', (u) => u.logFile],
  ['logOffset', 'log_offset', (u) => u.logOffset],
  ['logLength', 'log_length', (u) => u.logLength],
];

/**
 * The columns of a new run row, each with its value, in the order insertMany writes them. A column that no row of a
 * batch sets is left out of its INSERT (the nullable ones have no default but NULL): a fire's row sets 9 of the 21,
 * and each `NULL` left out is text to build, copy and parse.
 */
const INSERT_VALUES: readonly (readonly [string, (run: RunRecord) => unknown])[] = [
  ['run_id', (run) => run.runId],
  ['job_id', (run) => run.jobId],
  ['project_id', (run) => run.projectId],
  ['bundle_id', (run) => run.bundleId],
  ['host', (run) => run.host],
  ['trigger_type', (run) => run.trigger],
  ['status', (run) => run.status],
  ['scheduled_at', (run) => run.scheduledAt],
  ['fire_key', (run) => fireKey(run)],
  ['started_at', (run) => run.startedAt],
  ['ended_at', (run) => run.endedAt],
  ['result', (run) => run.result],
  ['error', (run) => run.error],
  ['attempt', (run) => run.attempt],
  ['cpu_ms', (run) => run.cpuMs],
  ['peak_memory_mb', (run) => run.peakMemoryMb],
  ['log_file', (run) => run.logFile],
  ['log_offset', (run) => run.logOffset],
  ['log_length', (run) => run.logLength],
  ['not_before', (run) => run.notBefore],
  ['params', (run) => (run.params === null || run.params === undefined ? null : JSON.stringify(run.params))],
];
/** The columns every row sets (NOT NULL): run_id, job_id, project_id, host, trigger_type, status, scheduled_at, attempt. */
const ALWAYS = new Set(['run_id', 'job_id', 'project_id', 'host', 'trigger_type', 'status', 'scheduled_at', 'attempt']);
const ALWAYS_MASK = INSERT_VALUES.reduce((mask, [column], j) => (ALWAYS.has(column) ? mask | (1 << j) : mask), 0);
const PARAMS = INSERT_VALUES.findIndex(([column]) => column === 'params');
const insertHeads = new Map<number, string>();

/** The head of an INSERT of the columns in `mask` (bit j: INSERT_VALUES[j]). */
function insertHead(mask: number): string {
  let head = insertHeads.get(mask);
  if (head === undefined) {
    const columns = INSERT_VALUES.filter((_, j) => mask & (1 << j)).map(([column]) => `\`${column}\``);
    head = `INSERT INTO \`runs\` (${columns.join(', ')}) VALUES `;
    insertHeads.set(mask, head);
  }
  return head;
}

/** The columns some run of `runs` sets. */
function insertMask(runs: readonly RunRecord[]): number {
  let mask = ALWAYS_MASK;
  const all = (1 << INSERT_VALUES.length) - 1;
  for (let i = 0; i < runs.length && mask !== all; i++) {
    const run = runs[i]!;
    for (let j = 0; j < INSERT_VALUES.length; j++) {
      if (mask & (1 << j)) continue;
      // params: whether it is set, without making its JSON twice.
      const value = j === PARAMS ? run.params : INSERT_VALUES[j]![1](run);
      if (value !== null && value !== undefined) mask |= 1 << j;
    }
  }
  return mask;
}

/** fire_key is scheduledAt in ms for SCHEDULE runs; NULLs never collide, so other triggers are unconstrained. */
export function fireKey(run: RunRecord): number | null {
  return run.trigger === 'SCHEDULE' ? run.scheduledAt.getTime() : null;
}

/** A unique-index violation, as sequelize reports it or as the driver does (SQLite, MySQL/MariaDB). */
function uniqueViolation(err: unknown): { message: string } | null {
  if (err instanceof UniqueConstraintError) {
    const parent = (err as { parent?: { message?: string } }).parent;
    return { message: `${parent?.message ?? ''} ${JSON.stringify(err.fields ?? {})}` };
  }
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof message !== 'string') return null;
  if (code === 'ER_DUP_ENTRY' || (code === 'SQLITE_CONSTRAINT' && message.includes('UNIQUE'))) return { message };
  return null;
}

/**
 * The statements are built here as their final text: one array of pieces (the constant ones shared, each value's
 * literal made once) joined once. Placeholders spliced in afterwards had cost a split of the statement, a values
 * array and the pieces again for every batch (~0.9 KB per run of the ~19 KB a throughput run allocated per run).
 */
export function createRunSink(ctx: StoreContext): RunSink {
  const { driver, traits, write } = ctx;
  // The last two dates' literals: a burst's rows mostly share their fire and start millisecond.
  let lastMs = NaN;
  let lastText = '';
  let olderMs = NaN;
  let olderText = '';
  const dateLiteral = (date: Date): string => {
    const ms = date.getTime();
    if (ms === lastMs) return lastText;
    if (ms === olderMs) return olderText;
    const text = driver.literal(traits.dateLiteral(date));
    olderMs = lastMs;
    olderText = lastText;
    lastMs = ms;
    lastText = text;
    return text;
  };
  const literal = (value: unknown): string => {
    if (value === null || value === undefined) return 'NULL';
    if (value instanceof Date) return dateLiteral(value);
    // The error column: a serialised error, stored as JSON text.
    if (typeof value === 'object') return driver.literal(JSON.stringify(value));
    return driver.literal(value);
  };
  return {
    // One multi-row INSERT: a sequelize model per row (bulkCreate) cost more than the write itself on the fire path,
    // where a burst of a thousand rows is normal.
    async insertMany(runs) {
      const mask = insertMask(runs);
      const out: string[] = [insertHead(mask)];
      for (let i = 0; i < runs.length; i++) {
        const run = runs[i]!;
        out.push(i === 0 ? '(' : ', (');
        let first = true;
        for (let j = 0; j < INSERT_VALUES.length; j++) {
          if (!(mask & (1 << j))) continue;
          if (!first) out.push(', ');
          first = false;
          out.push(literal(INSERT_VALUES[j]![1](run)));
        }
        out.push(')');
      }
      const sql = out.join('');
      // Rows final already (SKIPPED, or ended before their insert went) are rolled up with them, in one transaction:
      // an insert sent again fails on the primary key and adds nothing.
      const upsert = rollupUpsert(
        runs.filter((run) => isFinalStatus(run.status)).map((run) => factOf(run, run.status, run.scheduledAt.getTime(), epochOrNull(run.startedAt), epochOrNull(run.endedAt))),
        traits,
        literal,
      );
      if (upsert === null) await write(() => driver.run(sql));
      else await write(() => driver.script([sql, upsert]));
    },
    // One UPDATE joined to the batch's values per shape of update (the set of columns it sets): a join on the
    // primary key, where one UPDATE … CASE over a batch compares every row with every WHEN (1,000 updates took 130 ms).
    //
    // A final row is never changed again: each UPDATE sets only rows that are not final. That is what lets the rollup
    // count every end once. When every ending update carries its run (RunUpdate.run), the rollup is summed from them
    // and the script checks that each UPDATE changed all of its rows; if one did not (an end sent again after a lost
    // answer, a run ended twice), nothing is written and the batch goes again the careful way, which first reads
    // which of its rows are not final yet.
    async updateMany(updates) {
      const shapes = [...byShape(updates)];
      const statements = shapes.map(({ fields, group }) =>
        traits.dialect === 'sqlite' ? sqliteUpdate(fields, group, literal) : mysqlUpdate(fields, group, literal),
      );
      const ending = updates.filter((update) => isFinalStatus(update.status));
      if (ending.length === 0) {
        for (const sql of statements) await write(() => driver.run(sql));
        return;
      }
      if (ending.every((update) => update.run)) {
        // The run as the host holds it: its row's end is not written yet.
        const facts = ending.map((update) => {
          const run = update.run!;
          return endFact(update, run, run.scheduledAt.getTime(), epochOrNull(run.startedAt), null);
        });
        const checked = statements.map((sql, i) => ({ sql, changes: shapes[i]!.group.length }));
        try {
          await write(() => driver.script([...checked, rollupUpsert(facts, traits, literal)!]));
          return;
        } catch (err) {
          if (!(err instanceof RowCountMismatch)) throw err;
        }
      }
      await write(() =>
        driver.transaction(async (tx) => {
          const open = await tx.select(notFinalRows(ending, traits, literal), []);
          const byId = new Map(open.map((row) => [String(row.run_id), row]));
          const facts: RollupFact[] = [];
          for (const update of ending) {
            const row = byId.get(update.runId);
            if (!row) continue;
            const held = { jobId: num(row.job_id), projectId: num(row.project_id), trigger: String(row.trigger_type) };
            facts.push(endFact(update, held, num(row.fired), numOrNull(row.started), numOrNull(row.ended)));
          }
          for (const sql of statements) await tx.run(sql);
          const upsert = rollupUpsert(facts, traits, literal);
          if (upsert !== null) await tx.run(upsert);
        }),
      );
    },
    isUniqueViolation: (err) => uniqueViolation(err) !== null,
    // SQLite: "UNIQUE constraint failed: runs.job_id, runs.fire_key"; MySQL: "… for key 'runs_job_fire_key'".
    isFireConflict: (err) => uniqueViolation(err)?.message.includes('fire_key') ?? false,
    // SQLite: "UNIQUE constraint failed: runs.run_id"; MySQL: "… for key 'PRIMARY'".
    isRunIdConflict: (err) => /runs\.run_id|'PRIMARY'|\bPRIMARY\b/.test(uniqueViolation(err)?.message ?? ''),
  };
}

const NOT_FINAL = `\`status\` NOT IN (${FINAL_RUN_STATUSES.map((status) => `'${status}'`).join(', ')})`;

type RunKey = Pick<RollupFact, 'jobId' | 'projectId' | 'trigger'>;

/** What a final row adds to the rollups (run-rollups.ts); times as epoch ms. */
function factOf(run: RunKey, status: string, fired: number, started: number | null, ended: number | null): RollupFact {
  return { jobId: run.jobId, projectId: run.projectId, status, trigger: run.trigger, fired, started, ended };
}

/** What a row adds once this update ends it: the update's times where it sets them (null included), else the row's. */
function endFact(update: RunUpdate, run: RunKey, fired: number, started: number | null, ended: number | null): RollupFact {
  const start = update.startedAt !== undefined ? epochOrNull(update.startedAt) : started;
  return factOf(run, update.status, fired, start, update.endedAt !== undefined ? epochOrNull(update.endedAt) : ended);
}

function epochOrNull(date: Date | null | undefined): number | null {
  return date ? date.getTime() : null;
}

/** The rows these updates end that are not final yet, with what the rollup reads of them (times as epoch ms). */
function notFinalRows(ending: readonly RunUpdate[], traits: Pick<DialectTraits, 'dialect' | 'epochMs'>, literal: (value: unknown) => string): string {
  const ids = ending.map((update) => literal(update.runId)).join(', ');
  return `SELECT \`run_id\`, \`job_id\`, \`project_id\`, \`trigger_type\`, ${traits.epochMs('`scheduled_at`')} AS \`fired\`,
    ${traits.epochMs('`started_at`')} AS \`started\`, ${traits.epochMs('`ended_at`')} AS \`ended\`
    FROM \`runs\` WHERE \`run_id\` IN (${ids}) AND ${NOT_FINAL}${traits.dialect === 'mysql' ? ' FOR UPDATE' : ''}`;
}

interface Shape {
  /** The fields its updates set (an index into UPDATE_FIELDS each). */
  fields: number[];
  group: RunUpdate[];
}

/** Updates grouped by the fields they set (most batches have one or two shapes: RUNNING, and a run's end). */
function byShape(updates: readonly RunUpdate[]): Iterable<Shape> {
  const shapes = new Map<number, Shape>();
  for (const update of updates) {
    let mask = 0;
    for (let i = 0; i < UPDATE_FIELDS.length; i++) if (UPDATE_FIELDS[i]![2](update) !== undefined) mask |= 1 << i;
    const shape = shapes.get(mask);
    if (shape) shape.group.push(update);
    else shapes.set(mask, { fields: UPDATE_FIELDS.map((_, i) => i).filter((i) => mask & (1 << i)), group: [update] });
  }
  return shapes.values();
}

/** The values of one update, in the order of its shape's fields, each piece pushed onto `out`. */
function pushValues(out: string[], update: RunUpdate, fields: readonly number[], literal: (value: unknown) => string, aliases?: readonly string[]): void {
  out.push(literal(update.runId));
  if (aliases) out.push(' AS `run_id`');
  for (let j = 0; j < fields.length; j++) {
    out.push(', ', literal(UPDATE_FIELDS[fields[j]!]![2](update)));
    if (aliases) out.push(aliases[j]!);
  }
}

/** SQLite: UPDATE … FROM (VALUES …), joined on the primary key. */
function sqliteUpdate(fields: readonly number[], group: readonly RunUpdate[], literal: (value: unknown) => string): string {
  const sets = fields.map((field, j) => `\`${UPDATE_FIELDS[field]![1]}\` = v.column${j + 2}`).join(', ');
  const out: string[] = [`UPDATE \`runs\` SET ${sets} FROM (VALUES `];
  for (let i = 0; i < group.length; i++) {
    out.push(i === 0 ? '(' : ', (');
    pushValues(out, group[i]!, fields, literal);
    out.push(')');
  }
  out.push(`) AS v WHERE \`runs\`.\`run_id\` = v.column1 AND \`runs\`.${NOT_FINAL}`);
  return out.join('');
}

/** MySQL and MariaDB disagree on table value constructors; a UNION ALL derived table works on both. */
function mysqlUpdate(fields: readonly number[], group: readonly RunUpdate[], literal: (value: unknown) => string): string {
  const columns = fields.map((field) => UPDATE_FIELDS[field]![1]);
  const out: string[] = ['UPDATE `runs` r JOIN ('];
  for (let i = 0; i < group.length; i++) {
    out.push(i === 0 ? 'SELECT ' : ' UNION ALL SELECT ');
    pushValues(out, group[i]!, fields, literal, i === 0 ? columns.map((c) => ` AS \`${c}\``) : undefined);
  }
  out.push(`) v ON r.\`run_id\` = v.\`run_id\` SET ${columns.map((c) => `r.\`${c}\` = v.\`${c}\``).join(', ')} WHERE r.${NOT_FINAL}`);
  return out.join('');
}
