/**
 * The read side of runs: pages newest first, recovery look-ups, fire-time bookkeeping, counts.
 */
import { Op, QueryTypes, fn, col, literal } from 'sequelize';
import type { Model, WhereOptions } from 'sequelize';
import { badRequest } from '../errors/index.js';
import type { StoreContext } from './context.js';
import { dateOrNull, num, plain, toDate, toRun } from './records.js';
import type { JobRunSummary, RunRecord, RunStatus } from '../domain/index.js';
import type { RunQuery, RunRepo } from './types.js';

const MAX_PAGE = 1_000;
const ALL_STATUSES: RunStatus[] = [
  'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'KILLED', 'SKIPPED', 'INTERRUPTED',
];

/** Where the next page starts: the last row's (scheduledAt, runId), the order's two keys. */
interface CursorKey {
  at: number;
  runId: string;
}

export function encodeCursor(run: RunRecord): string {
  return Buffer.from(JSON.stringify([run.scheduledAt.getTime(), run.runId])).toString('base64url');
}

/** Times with four-digit years (0001-01-01 to 9999-12-31), what both databases store. */
const MIN_TIME = -62_135_596_800_000;
const MAX_TIME = 253_402_300_799_999;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function decodeCursor(cursor: string): CursorKey {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // Checked as tightly as it is written: a crafted cursor must not put an invalid date or any text into the query.
    if (Array.isArray(value) && value.length === 2) {
      const [at, runId] = value as unknown[];
      if (Number.isSafeInteger(at) && (at as number) >= MIN_TIME && (at as number) <= MAX_TIME && typeof runId === 'string' && RUN_ID.test(runId)) {
        return { at: at as number, runId };
      }
    }
  } catch {
    // falls through to the error below
  }
  throw badRequest('cursor is not one this server handed out', 'cursor');
}

/** from is inclusive, to exclusive, both on scheduledAt. */
function queryWhere(query: RunQuery): WhereOptions {
  const and: WhereOptions[] = [];
  if (query.jobId !== undefined) and.push({ jobId: query.jobId });
  if (query.projectIds) and.push({ projectId: { [Op.in]: query.projectIds } });
  if (query.status) and.push({ status: { [Op.in]: query.status } });
  if (query.trigger) and.push({ trigger: { [Op.in]: query.trigger } });
  if (query.from) and.push({ scheduledAt: { [Op.gte]: query.from } });
  if (query.to) and.push({ scheduledAt: { [Op.lt]: query.to } });
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    const at = new Date(key.at);
    and.push({ [Op.or]: [{ scheduledAt: { [Op.lt]: at } }, { scheduledAt: at, runId: { [Op.lt]: key.runId } }] });
  }
  return { [Op.and]: and };
}

const MAX_SPLIT = 20;

/** The query as one query per value of its first filter with several values (status, trigger, projects), or itself. */
function splitByValue(query: RunQuery): RunQuery[] {
  if (query.status && query.status.length > 1 && query.status.length <= MAX_SPLIT) return query.status.map((status) => ({ ...query, status: [status] }));
  if (query.trigger && query.trigger.length > 1) return query.trigger.map((trigger) => ({ ...query, trigger: [trigger] }));
  if (query.jobId === undefined && query.projectIds && query.projectIds.length > 1 && query.projectIds.length <= MAX_SPLIT) {
    return query.projectIds.map((projectId) => ({ ...query, projectIds: [projectId] }));
  }
  return [query];
}

/** The list's order on model rows: scheduledAt descending, then runId descending. */
function newestFirst(a: Model, b: Model): number {
  const at = toDate(b.get('scheduledAt')).getTime() - toDate(a.get('scheduledAt')).getTime();
  if (at !== 0) return at;
  return String(a.get('runId')) > String(b.get('runId')) ? -1 : 1;
}

export function createRunRepo({ models: { Run }, sequelize, traits, write }: StoreContext): RunRepo {
  return {
    async deletePlanned(filter) {
      const and: WhereOptions[] = [{ status: 'QUEUED', startedAt: null, trigger: 'SCHEDULE' }];
      if (filter.runIds) and.push({ runId: { [Op.in]: filter.runIds } });
      if (filter.scheduledAfter) and.push({ scheduledAt: { [Op.gt]: filter.scheduledAfter } });
      if (filter.runIds?.length === 0) return 0;
      return write(() => Run.destroy({ where: { [Op.and]: and } }));
    },
    async get(runId) {
      const row = await Run.findByPk(runId);
      return row ? toRun(plain(row)) : null;
    },
    // Newest first, ties by run id descending too: one direction for both keys, so MySQL and MariaDB read the
    // (…, scheduled_at, run_id) indexes backwards. With run_id ascending on ties they sorted every row the filter
    // held (1.7 s for the first page of a million runs on MariaDB).
    async list(query) {
      const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(query.limit)));
      // An IN over several statuses, triggers or projects cannot be read in the order of one index range: the
      // database sorts every row they hold (300 ms over a million runs). One seek per value, merged, reads limit + 1
      // rows per value instead.
      const parts = splitByValue(query);
      const found = await Promise.all(
        parts.map((part) => Run.findAll({ where: queryWhere(part), order: [['scheduledAt', 'DESC'], ['runId', 'DESC']], limit: limit + 1 })),
      );
      const rows = found.length === 1 ? found[0]! : found.flat().sort(newestFirst).slice(0, limit + 1);
      const items = rows.slice(0, limit).map((row) => toRun(plain(row)));
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
    },
    async findByStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = await Run.findAll({ where: { status: { [Op.in]: statuses } }, order: [['scheduledAt', 'ASC']] });
      return rows.map((row) => toRun(plain(row)));
    },
    async lastScheduledFireTimes(jobIds) {
      const result = new Map<number, Date>();
      if (jobIds.length === 0) return result;
      const rows = (await Run.findAll({
        attributes: ['jobId', [fn('MAX', col('scheduled_at')), 'lastAt']],
        where: { jobId: { [Op.in]: jobIds }, trigger: { [Op.in]: ['SCHEDULE', 'RECOVERY'] } },
        group: ['job_id'],
        raw: true,
      })) as unknown as { jobId: unknown; lastAt: unknown }[];
      for (const row of rows) result.set(num(row.jobId), toDate(row.lastAt));
      return result;
    },
    async countByStatus(jobId) {
      const rows = (await Run.findAll({
        attributes: ['status', [fn('COUNT', col('run_id')), 'n']],
        where: jobId === undefined ? {} : { jobId },
        group: ['status'],
        raw: true,
      })) as unknown as { status: RunStatus; n: unknown }[];
      const counts = Object.fromEntries(ALL_STATUSES.map((status) => [status, 0])) as Record<RunStatus, number>;
      for (const row of rows) counts[row.status] = num(row.n);
      return counts;
    },
    async latestInStatuses(statuses, projectIds, limit) {
      // One seek per status on (status, scheduled_at, run_id): an IN over statuses would sort every row they hold.
      const perStatus = await Promise.all(
        statuses.map((status) =>
          Run.findAll({
            where: projectIds ? { status, projectId: { [Op.in]: projectIds } } : { status },
            order: [['scheduledAt', 'DESC'], ['runId', 'DESC']],
            limit,
          }),
        ),
      );
      return perStatus
        .flat()
        .map((row) => toRun(plain(row)))
        .sort((a, b) => b.scheduledAt.getTime() - a.scheduledAt.getTime() || (a.runId > b.runId ? -1 : 1))
        .slice(0, limit);
    },
    async summarize(jobIds, now) {
      const summaries = new Map<number, JobRunSummary>();
      if (jobIds.length === 0) return summaries;
      const ids = jobIds.map((id) => {
        if (!Number.isSafeInteger(id)) throw new Error(`job id ${String(id)} is not an integer`);
        return id;
      }).join(', ');
      const due = sequelize.escape(traits.dateLiteral(now));
      // Two reads at once (MariaDB answers them on two connections): one row per (job, status), its count, from the
      // (job_id, status, scheduled_at) index alone (COUNT(*): counting run_id would read each row); and each job's
      // latest due runs, its latest fire time sought on (job_id, scheduled_at) and those rows joined to it. The
      // latest runs once waited for the counts and were sought with an OR of (job, time) pairs: two round trips, and
      // the OR built and planned per page (16-26 ms p50 of the jobs list's 23-41 ms on MariaDB, a million runs).
      // Not `(job_id, scheduled_at) IN (SELECT …)`: MariaDB read every run of the page's jobs for it (326 ms).
      const [groups, rows] = await Promise.all([
        Run.findAll({
          attributes: ['jobId', 'status', [fn('COUNT', literal('*')), 'n']],
          where: { jobId: { [Op.in]: jobIds }, scheduledAt: { [Op.lte]: now } },
          group: ['job_id', 'status'],
          raw: true,
        }) as unknown as Promise<{ jobId: unknown; status: RunStatus; n: unknown }[]>,
        sequelize.query(
          'SELECT r.`run_id` AS runId, r.`job_id` AS jobId, r.`status` AS status, r.`scheduled_at` AS scheduledAt, r.`started_at` AS startedAt, ' +
            'r.`ended_at` AS endedAt, r.`attempt` AS attempt ' +
            `FROM (SELECT \`job_id\`, MAX(\`scheduled_at\`) AS at FROM \`runs\` WHERE \`job_id\` IN (${ids}) AND \`scheduled_at\` <= ${due} GROUP BY \`job_id\`) AS l ` +
            'JOIN `runs` AS r ON r.`job_id` = l.`job_id` AND r.`scheduled_at` = l.at',
          { type: QueryTypes.SELECT },
        ) as Promise<Record<string, unknown>[]>,
      ]);
      for (const row of groups) {
        const jobId = num(row.jobId);
        const summary = summaries.get(jobId) ?? { runCounts: {}, lastRun: null };
        summary.runCounts[row.status] = num(row.n);
        summaries.set(jobId, summary);
      }
      // A fire's retries share its scheduledAt: the latest is the highest attempt, then the newest (v7) run id.
      const chosen = new Map<number, Record<string, unknown>>();
      for (const row of rows) {
        const jobId = num(row.jobId);
        const other = chosen.get(jobId);
        if (!other || num(row.attempt) > num(other.attempt) || (num(row.attempt) === num(other.attempt) && String(row.runId) > String(other.runId))) {
          chosen.set(jobId, row);
        }
      }
      for (const [jobId, row] of chosen) {
        // A run written between the two reads may have no count yet: it is still the job's latest.
        const summary = summaries.get(jobId) ?? { runCounts: {}, lastRun: null };
        summaries.set(jobId, summary);
        summary.lastRun = {
          runId: String(row.runId),
          status: row.status as RunStatus,
          scheduledAt: toDate(row.scheduledAt),
          startedAt: dateOrNull(row.startedAt),
          endedAt: dateOrNull(row.endedAt),
        };
      }
      return summaries;
    },
  };
}
