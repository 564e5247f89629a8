/**
 * Projects and their bundles. Deleting a project takes everything of it along, in one transaction.
 */
import { Op } from 'sequelize';
import type { WhereOptions } from 'sequelize';
import type { StoreContext } from './context.js';
import { definedOnly, nameContains, uniquely } from './context.js';
import { selectList } from './driver.js';
import { num, plain, toBundle, toProject } from './records.js';
import type { BundleRepo, ProjectRepo } from './types.js';

export function createProjectRepo(ctx: StoreContext): ProjectRepo {
  const { Project } = ctx.models;
  // Every REST call on a job or project reads its project: straight from the driver (see driver.ts).
  const columns = selectList(Project);
  const get = async (id: number) => {
    const [row] = await ctx.driver.select(`SELECT ${columns} FROM \`projects\` WHERE \`id\` = ?`, [id]);
    return row ? toProject(row) : null;
  };
  return {
    async create(project) {
      const now = new Date();
      const row = await uniquely(`project ${project.name}`, () =>
        ctx.write(() => Project.create({ ...project, trusted: project.trusted ?? false, currentBundleId: null, createdAt: now, updatedAt: now })),
      );
      return toProject(plain(row));
    },
    get,
    async findByName(name) {
      const row = await Project.findOne({ where: { name } });
      return row ? toProject(plain(row)) : null;
    },
    async list(ownerId) {
      const where = ownerId === undefined ? {} : { ownerId };
      return (await Project.findAll({ where, order: [['id', 'ASC']] })).map((row) => toProject(plain(row)));
    },
    async page(filter) {
      const where: WhereOptions[] = [];
      if (filter.ownerId !== undefined) where.push({ ownerId: filter.ownerId });
      if (filter.afterId !== undefined) where.push({ id: { [Op.gt]: filter.afterId } });
      if (filter.nameContains) where.push(nameContains(ctx.sequelize, filter.nameContains));
      const rows = await Project.findAll({ where: { [Op.and]: where }, order: [['id', 'ASC']], ...(filter.limit !== undefined ? { limit: filter.limit } : {}) });
      return rows.map((row) => toProject(plain(row)));
    },
    async update(id, patch) {
      const values = definedOnly(patch);
      if (Object.keys(values).length > 0) {
        await uniquely(`project ${patch.name ?? ''}`.trim(), () =>
          ctx.write(() => Project.update({ ...values, updatedAt: new Date() }, { where: { id } })),
        );
      }
      return get(id);
    },
    delete: (id) => deleteProject(ctx, id),
  };
}

async function deleteProject({ sequelize, models, write }: StoreContext, projectId: number): Promise<void> {
  await write(() =>
    sequelize.transaction(async (transaction) => {
      const jobs = await models.Job.findAll({ where: { projectId }, attributes: ['id'], transaction });
      const jobIds = jobs.map((job) => num(job.get('id')));
      if (jobIds.length > 0) await models.Cache.destroy({ where: { jobId: jobIds }, transaction });
      for (const model of [models.Event, models.Run, models.Job, models.Bundle]) {
        await model.destroy({ where: { projectId }, transaction });
      }
      await sequelize.query('DELETE FROM `run_rollups` WHERE `project_id` = ?', { replacements: [projectId], transaction });
      await models.Project.destroy({ where: { id: projectId }, transaction });
    }),
  );
}

/** Two uploads to one project racing on MySQL both read the same max version; the loser retries. */
const VERSION_ATTEMPTS = 5;

export function createBundleRepo({ sequelize, models: { Bundle }, write }: StoreContext): BundleRepo {
  const createOnce = (bundle: Parameters<BundleRepo['create']>[0]) =>
    write(() =>
      sequelize.transaction(async (transaction) => {
        const max: unknown = await Bundle.max('version', {
          where: { projectId: bundle.projectId },
          transaction,
        });
        const version = (max === null || max === undefined ? 0 : num(max)) + 1;
        return Bundle.create({ ...bundle, version, createdAt: new Date() }, { transaction });
      }),
    );
  return {
    async create(bundle) {
      for (let attempt = 1; ; attempt++) {
        try {
          return toBundle(plain(await createOnce(bundle)));
        } catch (err) {
          if (attempt >= VERSION_ATTEMPTS || (err as { name?: string }).name !== 'SequelizeUniqueConstraintError') {
            throw err;
          }
        }
      }
    },
    async get(id) {
      const row = await Bundle.findByPk(id);
      return row ? toBundle(plain(row)) : null;
    },
    async listForProject(projectId) {
      const rows = await Bundle.findAll({ where: { projectId }, order: [['version', 'DESC']] });
      return rows.map((row) => toBundle(plain(row)));
    },
    async delete(id) {
      await write(() => Bundle.destroy({ where: { id } }));
    },
  };
}
