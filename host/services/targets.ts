/**
 * Resolves what a run uses at the moment it starts: the project's current bundle version and the merged config
 * (properties file + profile overlay + job overrides). Cached per project and per (bundle, file, profile), and
 * invalidated when a project's bundle changes, so a burst of fires does not hit the database or the disk.
 */
import { loadConfig } from '@jobcenter/sdk';
import type { RunTarget, TargetResolver } from '../dispatch/types.js';
import type { BundleRecord, JobRecord, Store } from '../store/types.js';

interface ProjectEntry {
  name: string;
  bundle: BundleRecord | null;
}

export class CachedTargets implements TargetResolver {
  private readonly projects = new Map<number, Promise<ProjectEntry>>();
  private readonly configs = new Map<string, Promise<Record<string, string>>>();

  constructor(private readonly store: Store) {}

  async resolve(job: JobRecord): Promise<RunTarget> {
    const project = await this.project(job.projectId);
    if (!project.bundle && job.kind !== 'exec') {
      throw new Error(`project ${project.name} has no bundle: upload one before running ${job.kind} jobs`);
    }
    const config = await this.config(project.bundle, job);
    return { projectName: project.name, bundle: project.bundle, config };
  }

  /** Forget what is cached for a project (new bundle, deleted bundle, rename). */
  invalidate(projectId: number): void {
    this.projects.delete(projectId);
    for (const key of this.configs.keys()) if (key.startsWith(`${projectId}:`)) this.configs.delete(key);
  }

  private project(projectId: number): Promise<ProjectEntry> {
    let entry = this.projects.get(projectId);
    if (!entry) {
      entry = this.loadProject(projectId);
      this.projects.set(projectId, entry);
      entry.catch(() => this.projects.delete(projectId));
    }
    return entry;
  }

  private async loadProject(projectId: number): Promise<ProjectEntry> {
    const project = await this.store.projects.get(projectId);
    if (!project) throw new Error(`project ${projectId} no longer exists`);
    const bundle = project.currentBundleId ? await this.store.bundles.get(project.currentBundleId) : null;
    return { name: project.name, bundle };
  }

  private async config(bundle: BundleRecord | null, job: JobRecord): Promise<Record<string, string>> {
    if (!job.configFile) return { ...job.config };
    if (!bundle) throw new Error(`configFile ${job.configFile} needs a bundle, and project ${job.projectId} has none`);
    const key = `${job.projectId}:${bundle.id}:${job.configFile}:${job.profile ?? ''}`;
    let base = this.configs.get(key);
    if (!base) {
      base = loadConfig({ dir: bundle.dir, file: job.configFile, profile: job.profile });
      this.configs.set(key, base);
      base.catch(() => this.configs.delete(key));
    }
    return { ...(await base), ...job.config };
  }
}
