/**
 * Projects and their bundle versions. An upload becomes the project's current version only once it has passed
 * every check; runs in flight finish on the version they started with.
 */
import { badRequest, conflict, notFound } from '../errors/index.js';
import type { BundleRuns } from '../dispatch/bundle-runs.js';
import type { Executors } from '../dispatch/types.js';
import type { Logger } from '../log/logger.js';
import { PROJECT_EVENT_JOB_ID, type BundleManifest, type JobEventAction, type BundleRecord, type ProjectRecord } from '../domain/index.js';
import { type Page, type Store } from '../store/types.js';
import { assertAdmin, assertWriter, type Access } from './access.js';
import type { Actor } from './auth.js';
import type { Engine } from './engine.js';
import { assertObject, idPage, knownFields, parseId, type ListPage } from './input.js';
import type { CachedTargets } from './targets.js';
import { assertMayRun, parseTrusted } from './trust.js';

export interface BundleIntake {
  /** `accept` sees the manifest before any code of the bundle is loaded (introspection loads it), and may refuse it. */
  intake(zipPath: string, opts: { projectId: number; accept?(manifest: BundleManifest): void }): Promise<{
    sha256: string;
    size: number;
    dir: string;
    manifest: BundleRecord['manifest'];
    exports: BundleRecord['exports'];
  }>;
  remove(dir: string): Promise<void>;
}

export interface ProjectServiceDeps {
  store: Store;
  access: Access;
  intake: BundleIntake;
  executors: Executors;
  targets: CachedTargets;
  bundleRuns: BundleRuns;
  engine: Engine;
  logger: Logger;
}

/** Runs a refused bundle delete names in its message; `details.runs` lists them all. */
const NAMED_RUNS = 10;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** What a project body may carry; `trusted` (admins only) is a boolean, checked here and applied by the trust rules. */
const CREATE_FIELDS = ['name', 'description', 'trusted'];
const PATCH_FIELDS = ['name', 'description', 'ownerId', 'trusted'];

export class ProjectService {
  constructor(private readonly deps: ProjectServiceDeps) {}

  /** A page of the projects the actor sees (a developer: their own), in id order. */
  async list(actor: Actor, page: ListPage): Promise<Page<ProjectRecord>> {
    const ownerId = actor.role === 'developer' ? actor.id : undefined;
    const rows = await this.deps.store.projects.page({ ownerId, nameContains: page.nameContains, afterId: page.afterId, limit: page.limit + 1 });
    return idPage(rows, page.limit);
  }

  async create(actor: Actor, body: unknown): Promise<ProjectRecord> {
    assertWriter(actor);
    const input = assertObject(body);
    knownFields(input, CREATE_FIELDS);
    const name = parseProjectName(input.name);
    const description = parseDescription(input.description);
    const trusted = parseTrusted(actor, input.trusted) ?? false;
    if (await this.deps.store.projects.findByName(name)) throw conflict(`a project named ${name} already exists`);
    const project = await this.deps.store.projects.create({ name, description, ownerId: actor.id, trusted });
    await this.record(actor, project.id, 'created', { name, trusted });
    if (trusted) await this.trustEvent(actor, project.id, false, true);
    return project;
  }

  async update(actor: Actor, id: number, body: unknown): Promise<ProjectRecord> {
    const before = await this.deps.access.writableProject(actor, id);
    const input = assertObject(body);
    const patch: Partial<Pick<ProjectRecord, 'name' | 'description' | 'ownerId' | 'trusted'>> = {};
    knownFields(input, PATCH_FIELDS);
    patch.trusted = parseTrusted(actor, input.trusted);
    if (input.name !== undefined) {
      patch.name = parseProjectName(input.name);
      const other = await this.deps.store.projects.findByName(patch.name);
      if (other && other.id !== id) throw conflict(`a project named ${patch.name} already exists`);
    }
    if (input.description !== undefined) patch.description = parseDescription(input.description);
    if (input.ownerId !== undefined) {
      assertAdmin(actor);
      const ownerId = parseId(input.ownerId, 'ownerId');
      if (!(await this.deps.store.users.get(ownerId))) throw badRequest('ownerId must be the id of an existing user', 'ownerId');
      patch.ownerId = ownerId;
    }
    const updated = await this.deps.store.projects.update(id, patch);
    this.deps.targets.invalidate(id);
    const changed = (['name', 'description', 'ownerId'] as const).filter((field) => patch[field] !== undefined && patch[field] !== before[field]);
    if (changed.length > 0) {
      await this.record(actor, id, 'updated', Object.fromEntries(changed.map((field) => [field, { before: before[field], after: patch[field] }])));
    }
    if (patch.trusted !== undefined && patch.trusted !== before.trusted) {
      await this.trustEvent(actor, id, before.trusted, patch.trusted);
      // Loaded code of the project (module beans live as long as their loader) goes now; runs in flight finish.
      if (!patch.trusted) await this.retire(id, null);
    }
    return updated!;
  }

  private trustEvent(actor: Actor, projectId: number, before: boolean, after: boolean): Promise<void> {
    return this.record(actor, projectId, 'trust', { trusted: { before, after } });
  }

  /** An event of the project itself, or (with a bundle) of one of its bundle versions. */
  private record(actor: Actor | null, projectId: number, action: JobEventAction, details: Record<string, unknown> | null, bundleId?: number): Promise<void> {
    const entity = bundleId === undefined ? { entity: 'project' as const, entityId: projectId } : { entity: 'bundle' as const, entityId: bundleId };
    return this.deps.store.events.add({ ...entity, jobId: PROJECT_EVENT_JOB_ID, projectId, action, actor: actor?.username ?? 'system', details });
  }

  async remove(actor: Actor, id: number): Promise<void> {
    const project = await this.deps.access.writableProject(actor, id);
    const jobs = await this.deps.store.jobs.list({ projectIds: [id] });
    for (const job of jobs) this.deps.engine.forget(job.id);
    const bundles = await this.deps.store.bundles.listForProject(id);
    await this.deps.store.projects.delete(id);
    this.deps.targets.invalidate(id);
    await this.retire(id, null);
    for (const bundle of bundles) await this.deps.intake.remove(bundle.dir);
    // After the delete, which takes the project's events with it: this one stays (admins read it).
    await this.record(actor, id, 'deleted', { name: project.name, jobs: jobs.length, bundles: bundles.length });
  }

  /** The project's versions, newest first, and which of them runs (the newest upload, unless another was activated). */
  async listBundles(actor: Actor, projectId: number): Promise<{ bundles: BundleRecord[]; currentBundleId: number | null }> {
    const project = await this.deps.access.readableProject(actor, projectId);
    return { bundles: await this.deps.store.bundles.listForProject(projectId), currentBundleId: project.currentBundleId };
  }

  /**
   * Makes a stored version the one new runs use (an older one, to go back, without deleting the newer): as an upload
   * does, runs in flight finish on the version they started with. Activating the current version changes nothing.
   */
  async activateBundle(actor: Actor, projectId: number, bundleId: number): Promise<{ bundle: BundleRecord; warnings: string[] }> {
    const project = await this.deps.access.writableProject(actor, projectId);
    const bundle = await this.deps.store.bundles.get(bundleId);
    if (!bundle || bundle.projectId !== projectId) throw notFound(`bundle ${bundleId} of project ${projectId}`);
    // Trust may have been taken away since the version was uploaded.
    assertMayRun(project, bundle.manifest.kind, 'a bundle');
    const previousId = project.currentBundleId;
    if (previousId !== bundle.id) {
      await this.deps.store.projects.update(projectId, { currentBundleId: bundle.id });
      this.deps.targets.invalidate(projectId);
      await this.retire(projectId, bundle.id);
      const previous = previousId === null ? null : await this.deps.store.bundles.get(previousId);
      const before = previous ? { id: previous.id, version: previous.version } : null;
      await this.record(actor, projectId, 'activated', { bundle: { before, after: { id: bundle.id, version: bundle.version } } }, bundle.id);
    }
    return { bundle, warnings: await this.missingEntries(projectId, bundle) };
  }

  /** Checks, extracts and introspects the zip; only a fully valid bundle becomes the current version. */
  async uploadBundle(actor: Actor | null, projectId: number, zipPath: string): Promise<{ bundle: BundleRecord; warnings: string[] }> {
    const project = actor ? await this.deps.access.writableProject(actor, projectId) : await this.deps.store.projects.get(projectId);
    if (!project) throw notFound(`project ${projectId}`);
    // Refused before introspection, which loads the bundle's main module in a worker of this host.
    const accept = (manifest: BundleManifest): void => assertMayRun(project, manifest.kind, 'a bundle');
    const result = await this.deps.intake.intake(zipPath, { projectId, accept });
    const before = await this.deps.store.bundles.listForProject(projectId);
    let bundle: BundleRecord;
    try {
      bundle = await this.deps.store.bundles.create({ projectId, createdBy: actor?.id ?? null, ...result });
      await this.deps.store.projects.update(projectId, { currentBundleId: bundle.id });
    } catch (err) {
      await this.deps.intake.remove(result.dir);
      throw err;
    }
    this.deps.targets.invalidate(projectId);
    void this.retire(projectId, bundle.id);
    await this.record(actor, projectId, 'uploaded', { version: bundle.version, sha256: bundle.sha256, name: result.manifest.name }, bundle.id);
    return { bundle, warnings: [...sameAs(before, bundle, project.currentBundleId), ...(await this.missingEntries(projectId, bundle))] };
  }

  /**
   * Refused (409) while a run of this host uses the version, planned and queued ones included: a client retries once
   * they have ended, or stops their jobs first. The version stays claimed until its folder is gone, so no run takes
   * it up in between.
   */
  async deleteBundle(actor: Actor, projectId: number, bundleId: number, force: boolean): Promise<void> {
    const project = await this.deps.access.writableProject(actor, projectId);
    const bundle = await this.deps.store.bundles.get(bundleId);
    if (!bundle || bundle.projectId !== projectId) throw notFound(`bundle ${bundleId} of project ${projectId}`);
    const current = project.currentBundleId === bundleId;
    if (current && !force) await this.assertNoJobUses(bundle);
    this.claim(bundle);
    try {
      if (current) {
        const previous = (await this.deps.store.bundles.listForProject(projectId))
          .filter((b) => b.id !== bundleId)
          .sort((a, b) => b.version - a.version)[0];
        await this.deps.store.projects.update(projectId, { currentBundleId: previous?.id ?? null });
      }
      await this.deps.store.bundles.delete(bundleId);
      this.deps.targets.invalidate(projectId);
      await this.retire(projectId, (await this.deps.store.projects.get(projectId))?.currentBundleId ?? null);
      await this.deps.intake.remove(bundle.dir);
    } finally {
      this.deps.bundleRuns.unclaim(bundleId);
    }
    await this.record(actor, projectId, 'deleted', { version: bundle.version, wasCurrent: current, forced: force }, bundleId);
  }

  private async assertNoJobUses(bundle: BundleRecord): Promise<void> {
    const jobs = await this.deps.store.jobs.list({ projectIds: [bundle.projectId] });
    const users = jobs.filter((j) => j.kind !== 'exec' || j.configFile);
    if (users.length === 0) return;
    throw conflict(`bundle ${bundle.id} is the current version and ${users.length} job(s) use it; pass ?force=1 to delete it anyway`, {
      jobs: users.map((j) => ({ id: j.id, name: j.name })),
    });
  }

  private claim(bundle: BundleRecord): void {
    const runs = this.deps.bundleRuns.claim(bundle.id);
    if (runs.length === 0) return;
    const named = runs.slice(0, NAMED_RUNS).map((r) => r.runId).join(', ');
    const more = runs.length > NAMED_RUNS ? ` and ${runs.length - NAMED_RUNS} more` : '';
    throw conflict(
      `bundle version ${bundle.version} is in use by ${runs.length} run(s) in flight (${named}${more}); retry once they have ended, or stop their jobs first`,
      { runs },
    );
  }

  /**
   * Every executor at once: each takes `keep` as the current version in the synchronous part of its retire, so all
   * know it before a run that resolved the new version (after targets.invalidate) can reach them.
   */
  private async retire(projectId: number, keep: number | null): Promise<void> {
    await Promise.all(
      Object.values(this.deps.executors).map((executor) =>
        executor?.retire(projectId, keep).catch((err: unknown) => this.deps.logger.warn('retire failed', { projectId, error: String(err) })),
      ),
    );
  }

  /** Jobs of the project whose export the new version no longer has: they would fail, so say it. */
  private async missingEntries(projectId: number, bundle: BundleRecord): Promise<string[]> {
    const names = new Set(bundle.exports.map((e) => e.name));
    const jobs = await this.deps.store.jobs.list({ projectIds: [projectId] });
    return jobs
      .filter((j) => (j.kind === 'thread' || j.kind === 'isolate') && typeof j.entry === 'string' && !names.has(j.entry))
      .map((j) => `job ${j.name} uses export "${String(j.entry)}", which bundle version ${bundle.version} does not have`);
  }
}

/**
 * An upload identical (same sha256) to a version the project has is still stored as a new version: uploading is how a
 * version becomes current, so it may be a deliberate rollback. But a stale zip uploaded again by mistake looks the
 * same, so the answer says which version it repeats.
 */
function sameAs(versions: readonly BundleRecord[], bundle: BundleRecord, currentBundleId: number | null): string[] {
  const same = versions.filter((v) => v.sha256 === bundle.sha256).sort((a, b) => b.version - a.version)[0];
  if (!same) return [];
  const current = same.id === currentBundleId ? ', the current version until now' : '';
  return [`this upload is identical (same sha256) to bundle version ${same.version} (id ${same.id})${current}: it was stored as version ${bundle.version} all the same, with the same code and config`];
}

function parseProjectName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw badRequest('name must be 1 to 100 letters, digits, dots, dashes or underscores, starting with a letter or digit', 'name');
  }
  return name;
}

function parseDescription(description: unknown): string {
  if (description === undefined || description === null) return '';
  if (typeof description !== 'string' || description.length > 2000) throw badRequest('description must be a string of at most 2,000 characters', 'description');
  return description;
}
