/**
 * Job use cases shared by the REST API, the console and the CLI: create, change, start, stop, trigger, delete,
 * each checked against project ownership and recorded as a job event.
 */
import type { HostConfig } from '../config/index.js';
import { badRequest, conflict, unprocessable } from '../errors/index.js';
import type { BundleRecord, JobKind, JobRecord, JobRunSummary, JobState, ProjectRecord } from '../domain/index.js';
import type { Page, Store } from '../store/types.js';
import type { Access } from './access.js';
import type { Actor } from './auth.js';
import { BundleConfigFiles } from './bundle-config.js';
import type { Engine } from './engine.js';
import { assertObject, idPage, knownFields, parseId, type ListPage } from './input.js';
import { changedFields, parseJobInput, parseJobPatch, parseParams, type JobInput } from './job-input.js';
import { assertMayRun } from './trust.js';

export interface JobServiceDeps {
  config: HostConfig;
  store: Store;
  access: Access;
  engine: Engine;
}

/** Kinds this host can run today. */
const RUNNABLE = new Set(['thread', 'exec', 'module', 'isolate']);
const MAX_CURRENT_BUNDLES = 10_000;

export class JobService {
  /**
   * The current bundle of each project as last read. A bundle row never changes once written, and the project row
   * (read fresh on every call) says which bundle is current, so a hit is never stale; a REST trigger skips one read.
   */
  private readonly currentBundles = new Map<number, BundleRecord>();
  private readonly configFiles = new BundleConfigFiles();

  constructor(private readonly deps: JobServiceDeps) {}

  /** A page of the main jobs (sub-jobs are listed by their resolver), in id order. */
  async list(actor: Actor, filter: { projectId?: number; state?: JobState; kind?: JobKind } & ListPage): Promise<Page<JobRecord>> {
    const projectIds = await this.deps.access.readScope(actor, { projectId: filter.projectId });
    const { limit, afterId, nameContains } = filter;
    const rows = await this.deps.store.jobs.list({
      projectIds,
      states: filter.state ? [filter.state] : undefined,
      kinds: filter.kind ? [filter.kind] : undefined,
      resolverId: null,
      nameContains,
      afterId,
      limit: limit + 1,
    });
    return idPage(rows, limit);
  }

  /** Run counts by status and the latest run of each of these jobs (absent: no runs yet). */
  runSummaries(jobs: readonly JobRecord[]): Promise<Map<number, JobRunSummary>> {
    return this.deps.store.runs.summarize(jobs.map((j) => j.id), new Date());
  }

  async create(actor: Actor | null, body: unknown): Promise<JobRecord> {
    const input = assertObject(body);
    const projectId = parseId(input.projectId, 'projectId');
    const project = actor ? await this.deps.access.writableProject(actor, projectId) : await this.deps.store.projects.get(projectId);
    if (!project) throw badRequest(`project ${projectId} does not exist`, 'projectId');
    const job = parseJobInput(input, this.deps.config);
    await this.checkRunnable(project, job);
    if (await this.deps.store.jobs.findByName(project.id, job.name)) {
      throw conflict(`project ${project.name} already has a job named ${job.name}`);
    }
    const created = await this.deps.store.jobs.create({
      ...job,
      projectId: project.id,
      state: 'STOPPED',
      anchorAt: null,
      resolverId: null,
      identifierCode: null,
      disabled: false,
      ownerId: actor?.id ?? null,
    });
    await this.deps.engine.event(created, 'created', actor?.username ?? 'system', null);
    if (input.start === true) return (await this.deps.engine.startJob(created, actor?.username ?? 'system')).job;
    return created;
  }

  async update(actor: Actor, id: number, body: unknown): Promise<JobRecord> {
    const { job, project } = await this.deps.access.writableJob(actor, id);
    // Only what differs is written and recorded: {} (or the values the job has) changes nothing.
    const patch = changedFields(job, parseJobPatch(body, job, this.deps.config));
    if (Object.keys(patch).length === 0) return job;
    await this.checkRunnable(project, { ...job, ...patch });
    if (patch.name && (await this.deps.store.jobs.findByName(project.id, patch.name))) {
      throw conflict(`project ${project.name} already has a job named ${patch.name}`);
    }
    return this.deps.engine.updateJob(job, patch, actor.username);
  }

  async remove(actor: Actor, id: number): Promise<void> {
    const { job } = await this.deps.access.writableJob(actor, id);
    if (job.resolverId !== null) throw conflict('a sub-job cannot be deleted alone: delete or change its resolver');
    await this.removeWithSubJobs(job, actor.username, null);
  }

  /** Deleting a resolver deletes its sub-jobs (and theirs), as the original did; their runs stay as history. */
  private async removeWithSubJobs(job: JobRecord, actor: string, reason: string | null): Promise<void> {
    for (const child of await this.deps.store.jobs.list({ resolverId: job.id })) {
      await this.removeWithSubJobs(child, actor, 'its resolver was deleted');
    }
    this.deps.engine.forget(job.id);
    await this.deps.engine.event(job, 'deleted', actor, { name: job.name, ...(reason ? { reason } : {}) });
    await this.deps.store.jobs.delete(job.id);
  }

  async start(actor: Actor, id: number): Promise<{ job: JobRecord; runId?: string }> {
    const { job, project } = await this.deps.access.writableJob(actor, id);
    assertEnabled(job);
    await this.checkRunnable(project, job);
    return this.deps.engine.startJob(job, actor.username);
  }

  async stop(actor: Actor, id: number): Promise<JobRecord> {
    const { job } = await this.deps.access.writableJob(actor, id);
    return this.deps.engine.stopJob(job, actor.username);
  }

  async trigger(actor: Actor, id: number, body: unknown): Promise<{ runId: string }> {
    const { job, project } = await this.deps.access.writableJob(actor, id);
    assertEnabled(job);
    await this.checkRunnable(project, job);
    const input = body === undefined || body === null ? {} : assertObject(body);
    knownFields(input, ['params']);
    // Given params replace the job's for this run only; absent ones leave the job's in place.
    const params = input.params === undefined ? undefined : parseParams(input.params);
    const run = await this.deps.engine.trigger(job, 'MANUAL', actor.username, { params });
    if (!run) throw unprocessable('the run could not be recorded (the host is shutting down?)');
    return run;
  }

  async get(actor: Actor, id: number): Promise<JobRecord> {
    return (await this.deps.access.readableJob(actor, id)).job;
  }

  /** A resolver's sub-jobs, disabled ones included (they keep their runs). */
  async subjobs(actor: Actor, id: number): Promise<JobRecord[]> {
    const { job } = await this.deps.access.readableJob(actor, id);
    return this.deps.store.jobs.list({ resolverId: job.id });
  }

  /** How many jobs a project holds, sub-jobs included (what deleting it removes): one count on the project's index. */
  async countInProject(actor: Actor, projectId: number): Promise<number> {
    await this.deps.access.readableProject(actor, projectId);
    return this.deps.store.jobs.countForBundleProject(projectId);
  }

  /** The names of these jobs that the actor may see, in one read (a page of runs names its jobs). */
  async names(actor: Actor, ids: readonly number[]): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const [jobs, visible] = await Promise.all([this.deps.store.jobs.getMany([...new Set(ids)]), this.deps.access.visibleProjectIds(actor)]);
    const seen = visible ? new Set(visible) : null;
    return new Map(jobs.filter((job) => !seen || seen.has(job.projectId)).map((job) => [job.id, job.name]));
  }

  /** How many sub-jobs each of these jobs has (one grouped count); jobs without any are absent. */
  async subJobCounts(jobs: readonly JobRecord[]): Promise<Map<number, number>> {
    if (jobs.length === 0) return new Map();
    return this.deps.store.jobs.countByResolver(jobs.map((j) => j.id));
  }

  /**
   * A job must be able to run on the project's current bundle; a clear 422 beats a stream of failed runs. Code other
   * than isolate needs a trusted project (403).
   */
  private async checkRunnable(project: ProjectRecord, job: Pick<JobInput, 'kind' | 'entry' | 'configFile' | 'profile'>): Promise<void> {
    if (!RUNNABLE.has(job.kind)) throw unprocessable(`jobs of kind "${job.kind}" are not supported by this host yet (kind)`);
    assertMayRun(project, job.kind, 'a job');
    if (job.kind === 'exec') return this.configFiles.assertLoadable(await this.currentBundle(project), job, project.name);
    const bundle = await this.currentBundle(project);
    if (!bundle) throw unprocessable(`project ${project.name} has no bundle yet: upload one first (POST /api/v1/projects/${project.id}/bundles)`);
    if (bundle.manifest.kind !== job.kind) {
      throw unprocessable(`the project's bundle is of kind "${bundle.manifest.kind}", not "${job.kind}" (kind)`);
    }
    const names = bundle.exports.map((e) => e.name);
    if (!names.includes(String(job.entry))) {
      throw unprocessable(`the project's bundle (version ${bundle.version}) exports no job named "${String(job.entry)}"; it has: ${names.join(', ') || 'none'} (entry)`);
    }
    await this.configFiles.assertLoadable(bundle, job, project.name);
  }

  private async currentBundle(project: ProjectRecord): Promise<BundleRecord | null> {
    if (!project.currentBundleId) return null;
    const known = this.currentBundles.get(project.id);
    if (known?.id === project.currentBundleId) return known;
    const bundle = await this.deps.store.bundles.get(project.currentBundleId);
    // One entry per project; a host that has seen very many (deleted ones too) starts over.
    if (this.currentBundles.size >= MAX_CURRENT_BUNDLES) this.currentBundles.clear();
    if (bundle) this.currentBundles.set(project.id, bundle);
    else this.currentBundles.delete(project.id);
    return bundle;
  }
}

/** A sub-job its resolver no longer lists keeps its history but does not run until the resolver lists it again. */
function assertEnabled(job: JobRecord): void {
  if (job.disabled) {
    throw unprocessable(`job ${job.name} is disabled: its resolver no longer lists it (it is enabled again when the resolver lists it)`);
  }
}
