/**
 * Jobs, their audit events and their cache.
 */
import { deserialize, serialize } from 'node:v8';
import { col, fn, Op } from 'sequelize';
import type { WhereOptions } from 'sequelize';
import { badRequest } from '../errors/index.js';
import { PROJECT_EVENT_JOB_ID, type JobEventRecord } from '../domain/index.js';
import type { StoreContext } from './context.js';
import { definedOnly, nameContains, uniquely } from './context.js';
import { selectList } from './driver.js';
import { GroupCommit } from './group-commit.js';
import { dateOrNull, plain, toEvent, toJob, toJobSchedule } from './records.js';
import type { JobRecord } from '../domain/index.js';
import type { CacheRepo, EventQuery, EventRepo, JobRepo } from './types.js';

/** The JSON columns of a job row. */
const JOB_JSON = ['entry', 'params', 'config', 'schedule', 'grants', 'retries'] as const;
const IDS_PER_QUERY = 5_000;
/** A start-up reads only these columns of its 100,000 jobs: whole rows were most of its time and memory peak. */
const SCHEDULE_ATTRIBUTES = ['id', 'projectId', 'state', 'schedule', 'anchorAt', 'misfire'];

export function createJobRepo({ models: { Job, Cache }, write, sequelize, traits, driver }: StoreContext): JobRepo {
  // A start-up lists every active job: raw rows skip building a sequelize model per row (at 100,000 jobs that was
  // most of the start-up time and a peak of several hundred MB).
  const fromRaw = (row: Record<string, unknown>): Record<string, unknown> => {
    if (!traits.jsonAsText) return row;
    for (const column of JOB_JSON) {
      const value = row[column];
      if (typeof value === 'string') row[column] = JSON.parse(value);
    }
    return row;
  };
  // Every REST call on a job reads it: straight from the driver (see driver.ts), without building a model.
  const columns = selectList(Job);
  const get = async (id: number) => {
    const [row] = await driver.select(`SELECT ${columns} FROM \`jobs\` WHERE \`id\` = ?`, [id]);
    return row ? toJob(fromRaw(row)) : null;
  };
  return {
    async create(job) {
      const now = new Date();
      const row = await uniquely(`job ${job.name} in this project`, () =>
        write(() => Job.create({ ...job, createdAt: now, updatedAt: now })),
      );
      return toJob(plain(row));
    },
    get,
    async findByName(projectId, name) {
      const row = await Job.findOne({ where: { projectId, name } });
      return row ? toJob(plain(row)) : null;
    },
    async list(filter) {
      const where: WhereOptions[] = [];
      if (filter.projectIds) where.push({ projectId: { [Op.in]: filter.projectIds } });
      if (filter.resolverId !== undefined) where.push({ resolverId: filter.resolverId });
      if (filter.states) where.push({ state: { [Op.in]: filter.states } });
      if (filter.kinds) where.push({ kind: { [Op.in]: filter.kinds } });
      if (filter.afterId !== undefined) where.push({ id: { [Op.gt]: filter.afterId } });
      if (filter.nameContains) where.push(nameContains(sequelize, filter.nameContains));
      const rows = (await Job.findAll({
        where: { [Op.and]: where },
        order: [['id', 'ASC']],
        ...(filter.limit !== undefined ? { limit: filter.limit } : {}),
        raw: true,
      })) as unknown as Record<string, unknown>[];
      return rows.map((row) => toJob(fromRaw(row)));
    },
    async listSchedules({ states, afterId, limit }) {
      const rows = (await Job.findAll({
        attributes: SCHEDULE_ATTRIBUTES,
        where: { state: { [Op.in]: states }, id: { [Op.gt]: afterId } },
        order: [['id', 'ASC']],
        limit,
        raw: true,
      })) as unknown as Record<string, unknown>[];
      return rows.map((row) => toJobSchedule(fromRaw(row)));
    },
    async getMany(ids) {
      const jobs: JobRecord[] = [];
      // A bounded IN list per query keeps every statement under the engines' length and parameter limits.
      for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
        const where = { id: { [Op.in]: ids.slice(i, i + IDS_PER_QUERY) } };
        const rows = (await Job.findAll({ where, raw: true })) as unknown as Record<string, unknown>[];
        for (const row of rows) jobs.push(toJob(fromRaw(row)));
      }
      return jobs;
    },
    async update(id, patch) {
      const values = definedOnly(patch);
      if (Object.keys(values).length > 0) {
        await uniquely(`job ${patch.name ?? ''}`.trim(), () =>
          write(() => Job.update({ ...values, updatedAt: new Date() }, { where: { id } })),
        );
      }
      return get(id);
    },
    // Runs and events stay: they are the job's history (and the 'deleted' event is about it). Its cache goes.
    async delete(id) {
      await write(() =>
        sequelize.transaction(async (transaction) => {
          await Cache.destroy({ where: { jobId: id }, transaction });
          await Job.destroy({ where: { id }, transaction });
        }),
      );
    },
    countForBundleProject: (projectId) => Job.count({ where: { projectId } }),
    async countByResolver(resolverIds) {
      if (resolverIds.length === 0) return new Map();
      const rows = (await Job.findAll({
        attributes: ['resolverId', [fn('COUNT', col('id')), 'n']],
        where: { resolverId: { [Op.in]: resolverIds } },
        group: ['resolverId'],
        raw: true,
      })) as unknown as { resolverId: number; n: number | string }[];
      return new Map(rows.map((r) => [Number(r.resolverId), Number(r.n)]));
    },
    async countByState(projectIds) {
      const rows = (await Job.findAll({
        attributes: ['state', [fn('COUNT', col('id')), 'n']],
        where: projectIds ? { projectId: { [Op.in]: projectIds } } : {},
        group: ['state'],
        raw: true,
      })) as unknown as { state: string; n: number | string }[];
      return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
    },
  };
}

/** The event repository, and the flush the store's close() waits for. */
export function createEventRepo({ models: { Event }, write }: StoreContext): EventRepo & { flush(): Promise<void> } {
  // Every REST trigger writes one: they go in groups (see group-commit.ts).
  const rows = new GroupCommit<Record<string, unknown>>(async (batch) => {
    await write(() => Event.bulkCreate(batch));
  });
  return {
    add(event) {
      const entity = event.entity ?? (event.jobId === PROJECT_EVENT_JOB_ID ? 'project' : 'job');
      const entityId = event.entityId !== undefined ? event.entityId : entity === 'project' ? event.projectId : event.jobId;
      // A refused login names whatever was typed: the column holds 100 characters.
      const actor = event.actor.slice(0, 100);
      return rows.add({ ...event, entity, entityId, actor, userId: event.userId ?? null, details: event.details ?? null, at: event.at ?? new Date() });
    },
    flush: () => rows.flush(),
    list: (filter) => listEvents(Event, filter),
  };
}

async function listEvents(Event: StoreContext['models']['Event'], filter: EventQuery): Promise<JobEventRecord[]> {
  const and: WhereOptions[] = [];
  if (filter.entity !== undefined) and.push({ entity: filter.entity });
  if (filter.entityId !== undefined) and.push({ entityId: filter.entityId });
  if (filter.jobId !== undefined) and.push({ jobId: filter.jobId });
  if (filter.projectId !== undefined) and.push({ projectId: filter.projectId });
  if (filter.actor !== undefined) and.push({ actor: filter.actor });
  if (filter.from) and.push({ at: { [Op.gte]: filter.from } });
  if (filter.to) and.push({ at: { [Op.lt]: filter.to } });
  if (filter.beforeId !== undefined) and.push({ id: { [Op.lt]: filter.beforeId } });
  // What the reader may see: events of their projects, and account events (project 0) of their own account.
  if (filter.projectIds || filter.accountUserId !== undefined) {
    const projects: WhereOptions = filter.projectIds ? { projectId: { [Op.in]: filter.projectIds } } : { projectId: { [Op.gt]: 0 } };
    const accounts: WhereOptions = filter.accountUserId !== undefined ? { projectId: 0, userId: filter.accountUserId } : { projectId: 0 };
    and.push({ [Op.or]: [projects, accounts] });
  }
  const rows = await Event.findAll({ where: { [Op.and]: and }, order: [['id', 'DESC']], limit: Math.max(1, filter.limit) });
  return rows.map((row) => toEvent(plain(row)));
}

const MAX_KEY_LENGTH = 255;

export function createCacheRepo({ models: { Cache }, write }: StoreContext): CacheRepo {
  const checkKey = (key: string) => {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw badRequest(`cache key must be 1..${MAX_KEY_LENGTH} characters`, 'key');
    }
  };
  return {
    async get(jobId, key) {
      checkKey(key);
      const row = await Cache.findOne({ where: { jobId, key } });
      if (!row) return undefined;
      const expiresAt = dateOrNull(row.get('expiresAt'));
      if (expiresAt && expiresAt.getTime() <= Date.now()) {
        // Lazy expiry; the condition keeps a value set again meanwhile.
        await write(() => Cache.destroy({ where: { jobId, key, expiresAt: { [Op.lte]: new Date() } } }));
        return undefined;
      }
      return deserialize(row.get('value') as Buffer);
    },
    async set(jobId, key, value, ttlMs) {
      checkKey(key);
      // serialize() throws a DataCloneError for what structured clone refuses (functions, symbols…).
      const buffer = serialize(value);
      const now = new Date();
      const expiresAt = ttlMs === undefined ? null : new Date(now.getTime() + ttlMs);
      await write(() => Cache.upsert({ jobId, key, value: buffer, expiresAt, updatedAt: now }));
    },
    async delete(jobId, key) {
      checkKey(key);
      await write(() => Cache.destroy({ where: { jobId, key } }));
    },
  };
}
