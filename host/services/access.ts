/**
 * Project ownership, enforced in one place: admins see and change everything, developers only their own projects
 * (another developer's project does not exist for them: 404), viewers read everything and change nothing.
 */
import { forbidden, notFound } from '../errors/index.js';
import type { JobRecord, ProjectRecord } from '../domain/index.js';
import type { Store } from '../store/types.js';
import type { Actor } from './auth.js';

export class Access {
  constructor(private readonly store: Store) {}

  canSee(actor: Actor, project: ProjectRecord): boolean {
    return actor.role !== 'developer' || project.ownerId === actor.id;
  }

  /** The project ids an actor may see, or undefined for all. */
  async visibleProjectIds(actor: Actor): Promise<number[] | undefined> {
    if (actor.role !== 'developer') return undefined;
    return (await this.store.projects.list(actor.id)).map((p) => p.id);
  }

  /**
   * What a list may show: the given job and project must be readable (404 otherwise); the result is the project ids
   * to list from (that project alone when one is given), or undefined for all.
   */
  async readScope(actor: Actor, filter: { jobId?: number; projectId?: number }): Promise<number[] | undefined> {
    if (filter.jobId !== undefined) await this.readableJob(actor, filter.jobId);
    if (filter.projectId === undefined) return this.visibleProjectIds(actor);
    await this.readableProject(actor, filter.projectId);
    return [filter.projectId];
  }

  async readableProject(actor: Actor, projectId: number): Promise<ProjectRecord> {
    const project = await this.store.projects.get(projectId);
    if (!project || !this.canSee(actor, project)) throw notFound(`project ${projectId}`);
    return project;
  }

  async writableProject(actor: Actor, projectId: number): Promise<ProjectRecord> {
    const project = await this.readableProject(actor, projectId);
    assertWriter(actor);
    return project;
  }

  async readableJob(actor: Actor, jobId: number): Promise<{ job: JobRecord; project: ProjectRecord }> {
    const job = await this.store.jobs.get(jobId);
    if (!job) throw notFound(`job ${jobId}`);
    const project = await this.store.projects.get(job.projectId);
    if (!project || !this.canSee(actor, project)) throw notFound(`job ${jobId}`);
    return { job, project };
  }

  async writableJob(actor: Actor, jobId: number): Promise<{ job: JobRecord; project: ProjectRecord }> {
    const found = await this.readableJob(actor, jobId);
    assertWriter(actor);
    return found;
  }
}

export function assertWriter(actor: Actor): void {
  if (actor.role === 'viewer') throw forbidden('viewers can read but not change anything');
}

export function assertAdmin(actor: Actor): void {
  if (actor.role !== 'admin') throw forbidden('only admins can do this');
}
