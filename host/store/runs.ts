/**
 * The read side of runs: pages newest first, recovery look-ups, fire-time bookkeeping, counts.
 */
import { Op, fn, col } from 'sequelize';
import type { WhereOptions } from 'sequelize';
import { badRequest } from '../errors/index.js';
import type { StoreContext } from './context.js';
import { num, plain, toDate, toRun } from './records.js';
import type { RunQuery, RunRecord, RunRepo, RunStatus } from './types.js';

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
  if (query.from) and.push({ scheduledAt: { [Op.gte]: query.from } });
  if (query.to) and.push({ scheduledAt: { [Op.lt]: query.to } });
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    const at = new Date(key.at);
    and.push({ [Op.or]: [{ scheduledAt: { [Op.lt]: at } }, { scheduledAt: at, runId: { [Op.gt]: key.runId } }] });
  }
  return { [Op.and]: and };
}

export function createRunRepo({ models: { Run }, write }: StoreContext): RunRepo {
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
    async list(query) {
      const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(query.limit)));
      const rows = await Run.findAll({
        where: queryWhere(query),
        order: [['scheduledAt', 'DESC'], ['runId', 'ASC']],
        limit: limit + 1,
      });
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
  };
}
