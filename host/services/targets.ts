/**
 * Resolves what a run uses at the moment it starts: the project's current bundle version and the merged config
 * (properties file + profile overlay + job overrides). Cached per project and per (bundle, file, profile), and
 * invalidated when a project's bundle changes, so a burst of fires does not hit the database or the disk.
 */
import { loadConfig } from '@jobcenter/config';
import type { RunTarget, TargetResolver } from '../dispatch/types.js';
import type { BundleRecord, JobRecord } from '../domain/index.js';
import type { Store } from '../store/types.js';
import { configFilesIn, missingConfig } from './bundle-config.js';
import { mayRun, untrusted } from './trust.js';

interface ProjectEntry {
  name: string;
  id: number;
  trusted: boolean;
  bundle: BundleRecord | null;
}

export class CachedTargets implements TargetResolver {
  private readonly projects = new Map<number, Promise<ProjectEntry>>();
  private readonly configs = new Map<string, Promise<Record<string, string>>>();
  /**
   * The last target resolved per job, reused while the job record and the project entry it came from are the same
   * objects: a burst of fires then costs no work here (each fire's resolve had made three promises and a copy of
   * the config). Executors never hand the config to job code in this thread, so one object serves every run.
   */
  private readonly lastTargets = new Map<number, { job: JobRecord; project: Promise<ProjectEntry>; target: Promise<RunTarget> }>();

  constructor(private readonly store: Store) {}

  resolve(job: JobRecord): Promise<RunTarget> {
    const project = this.project(job.projectId);
    // A sub-job reads its resolver's row on every run (configSource), so its target is never reused.
    if (job.resolverId !== null) return this.resolveFrom(project, job);
    const last = this.lastTargets.get(job.id);
    if (last && last.job === job && last.project === project) return last.target;
    const target = this.resolveFrom(project, job);
    if (this.lastTargets.size >= MAX_LAST_TARGETS) this.lastTargets.clear();
    this.lastTargets.set(job.id, { job, project, target });
    target.catch(() => {
      if (this.lastTargets.get(job.id)?.target === target) this.lastTargets.delete(job.id);
    });
    return target;
  }

  private async resolveFrom(entry: Promise<ProjectEntry>, job: JobRecord): Promise<RunTarget> {
    const project = await entry;
    // The project may have lost its trust since the job was made or started: its code does not run then.
    if (!mayRun(project, job.kind)) throw untrusted(project, job.kind, 'this job');
    if (!project.bundle && job.kind !== 'exec') {
      throw new Error(`project ${project.name} has no bundle: upload one before running ${job.kind} jobs`);
    }
    const source = await this.configSource(job);
    const config = await this.config(project.bundle, job, source);
    return { projectName: project.name, bundle: project.bundle, config, profile: source.profile };
  }

  /** Forget what is cached for a project (new bundle, deleted bundle, rename). */
  invalidate(projectId: number): void {
    // Targets made from the old entry are not reused: the next resolve gets a new entry.
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
    return { name: project.name, id: project.id, trusted: project.trusted, bundle };
  }

  private async config(bundle: BundleRecord | null, job: JobRecord, source: ConfigSource): Promise<Record<string, string>> {
    const { configFile, profile, config } = source;
    if (!configFile) return { ...config };
    if (!bundle) throw new Error(`configFile ${configFile} needs a bundle, and project ${job.projectId} has none`);
    const key = `${job.projectId}:${bundle.id}:${configFile}:${profile ?? ''}`;
    let base = this.configs.get(key);
    if (!base) {
      base = loadConfig({ dir: bundle.dir, file: configFile, profile }).catch((err: unknown) => configFailure(err, bundle, { configFile, profile }));
      this.configs.set(key, base);
      base.catch(() => this.configs.delete(key));
    }
    return { ...(await base), ...config };
  }

  /**
   * A sub-job without a config file of its own reads its resolver's file and profile (and the resolver's overrides
   * under its own), as the original did. Read from the row on every run, so a change to the resolver applies at once.
   */
  private async configSource(job: JobRecord): Promise<ConfigSource> {
    let source: ConfigSource = job;
    let config = { ...job.config };
    let resolverId = job.resolverId;
    for (let depth = 0; !source.configFile && resolverId !== null && depth < MAX_RESOLVER_DEPTH; depth++) {
      const resolver = await this.store.jobs.get(resolverId);
      if (!resolver) throw new Error(`the resolver (job ${resolverId}) of sub-job ${job.name} no longer exists`);
      source = resolver;
      config = { ...resolver.config, ...config };
      resolverId = resolver.resolverId;
    }
    return { configFile: source.configFile, profile: source.profile, config };
  }
}

type ConfigSource = Pick<JobRecord, 'configFile' | 'profile' | 'config'>;

/**
 * A config that no longer loads (the job was checked when saved; the bundle changed since) fails the run in the words
 * of the check at creation, and without a stack: the SDK's frames and paths are the host's business, not the job's.
 */
async function configFailure(err: unknown, bundle: BundleRecord, job: Pick<JobRecord, 'configFile' | 'profile'>): Promise<never> {
  const code = (err as { code?: unknown } | null)?.code;
  const files = typeof code === 'string' && code.startsWith('CONFIG_') ? await configFilesIn(bundle.dir).catch(() => null) : null;
  const missing = files ? missingConfig(bundle, files, job) : null;
  const message = missing?.message ?? (err instanceof Error ? err.message : String(err));
  const name = err instanceof Error ? err.name : 'Error';
  throw Object.assign(new Error(message), { name, stack: `${name}: ${message}`, ...(typeof code === 'string' ? { code } : {}) });
}

/** Jobs whose last target is kept; past this the map starts over (a host runs far fewer jobs in a burst). */
const MAX_LAST_TARGETS = 10_000;

/** Resolvers may make resolvers; the walk up to the one with a config file is bounded all the same. */
const MAX_RESOLVER_DEPTH = 8;
