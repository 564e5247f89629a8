/**
 * Turns a resolver run's output into sub-jobs, by name, as the original JobCenter did (reference §1.2): a new name is
 * created (and started), a changed or disabled one is updated and restarted, an unchanged one is started if it
 * stopped, and a missing one is stopped and soft-disabled so its runs stay visible. Every spec is checked before
 * anything changes, and runs of the same resolver reconcile one at a time.
 */
import type { JobSpec } from '@jobcenter/job-api';
import type { HostConfig } from '../config/index.js';
import { hasCode, serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { JobRecord } from '../domain/index.js';
import type { Store } from '../store/types.js';
import type { Engine } from './engine.js';
import { changedFields, specError, validateSpecs, type SubJobSpec } from './resolver-specs.js';
import { mayRun, untrusted } from './trust.js';

export interface ResolverServiceDeps {
  store: Store;
  engine: Engine;
  logger: Logger;
  config: HostConfig;
}

interface Tally {
  new: number;
  update: number;
  disable: number;
  enable: number;
}

/** One reconciliation: the resolver as it is now, who acts, and the run that asked. */
interface Pass {
  resolver: JobRecord;
  actor: string;
  runId: string;
  tally: Tally;
}

export class ResolverService {
  /** resolverId → the tail of its chain of reconciliations (always settled, never rejected). */
  private readonly tails = new Map<number, Promise<void>>();

  constructor(private readonly deps: ResolverServiceDeps) {}

  /** The Reconciler of dispatch: returns e.g. "new:2, update:0, disable:1, enable:0", throws (run FAILED) on a bad spec. */
  reconcile(resolver: JobRecord, specs: readonly JobSpec[], runId: string): Promise<string> {
    return this.exclusive(resolver.id, () => this.reconcileNow(resolver.id, specs, runId));
  }

  private async exclusive<T>(resolverId: number, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(resolverId) ?? Promise.resolve();
    const result = previous.then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(resolverId, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(resolverId) === tail) this.tails.delete(resolverId);
    }
  }

  private async reconcileNow(resolverId: number, specs: readonly JobSpec[], runId: string): Promise<string> {
    // The row, not the run's snapshot: the resolver may have been changed or deleted while it ran.
    const resolver = await this.deps.store.jobs.get(resolverId);
    if (!resolver) throw new Error(`resolver job ${resolverId} was deleted while it ran; nothing reconciled`);
    const wanted = validateSpecs(specs, resolver.kind, this.deps.config);
    await this.checkEntries(resolver, wanted);
    const children = await this.deps.store.jobs.list({ resolverId: resolver.id });
    const byName = new Map(children.map((c) => [c.name, c]));
    await this.checkNameClashes(resolver, wanted, byName);
    const pass: Pass = { resolver, actor: `resolver:${resolver.name}`, runId, tally: { new: 0, update: 0, disable: 0, enable: 0 } };
    for (const spec of wanted) {
      const child = byName.get(spec.name);
      if (!child) await this.create(pass, spec);
      else await this.bringInLine(pass, child, spec);
    }
    const names = new Set(wanted.map((s) => s.name));
    for (const child of children) {
      if (!names.has(child.name) && !child.disabled) await this.disable(pass, child);
    }
    const { tally } = pass;
    return `new:${tally.new}, update:${tally.update}, disable:${tally.disable}, enable:${tally.enable}`;
  }

  /** A spec naming an export the project's bundle does not have would only produce failed runs: refuse it now. */
  private async checkEntries(resolver: JobRecord, wanted: SubJobSpec[]): Promise<void> {
    const project = await this.deps.store.projects.get(resolver.projectId);
    const bundle = project?.currentBundleId ? await this.deps.store.bundles.get(project.currentBundleId) : null;
    wanted.forEach((spec, index) => {
      if (project && !mayRun(project, spec.kind)) throw specError(index, 'kind', untrusted(project, spec.kind, 'a sub-job').message);
      if (spec.kind === 'exec') return;
      if (!bundle) throw specError(index, 'kind', `"${spec.kind}" jobs need a bundle and the project has none`);
      if (bundle.manifest.kind !== spec.kind) {
        throw specError(index, 'kind', `the project's bundle is of kind "${bundle.manifest.kind}", not "${spec.kind}"`);
      }
      const names = bundle.exports.map((e) => e.name);
      if (!names.includes(String(spec.entry))) {
        throw specError(index, 'entry', `the project's bundle (version ${bundle.version}) exports no job named "${String(spec.entry)}"; it has: ${names.join(', ') || 'none'}`);
      }
    });
  }

  /** Names are unique per project: a new sub-job may not take the name of any job that is not already its own. */
  private async checkNameClashes(resolver: JobRecord, wanted: SubJobSpec[], own: Map<string, JobRecord>): Promise<void> {
    for (const [index, spec] of wanted.entries()) {
      if (own.has(spec.name)) continue;
      const other = await this.deps.store.jobs.findByName(resolver.projectId, spec.name);
      if (!other) continue;
      const whose = other.resolverId === null ? 'a job' : `a sub-job of resolver job ${other.resolverId}`;
      throw specError(index, 'name', `"${spec.name}" is already ${whose} of this project (job ${other.id})`);
    }
  }

  private async create(pass: Pass, spec: SubJobSpec): Promise<void> {
    const { resolver } = pass;
    const created = await this.deps.store.jobs.create({
      ...spec,
      projectId: resolver.projectId,
      state: 'STOPPED',
      anchorAt: null,
      resolverId: resolver.id,
      disabled: false,
      ownerId: resolver.ownerId,
    });
    await this.deps.engine.event(created, 'created', pass.actor, { resolverId: resolver.id, runId: pass.runId });
    pass.tally.new++;
    await this.start(pass, created);
  }

  /** Updates a changed or disabled sub-job (and restarts it); starts an unchanged one that stopped. */
  private async bringInLine(pass: Pass, child: JobRecord, spec: SubJobSpec): Promise<void> {
    const fields = changedFields(child, spec);
    if (fields.length === 0 && !child.disabled) {
      if (child.state === 'STOPPED') await this.start(pass, child);
      return;
    }
    if (child.state !== 'STOPPED') await this.deps.engine.stopJob(child, pass.actor, { reason: 'its resolver changed it' });
    const { identifierCode, entry, kind, params, schedule, concurrency } = spec;
    const updated = await this.deps.store.jobs.update(child.id, { identifierCode, entry, kind, params, schedule, concurrency, disabled: false });
    if (!updated) return;
    await this.deps.engine.event(updated, 'updated', pass.actor, { fields, ...(child.disabled ? { enabled: true } : {}), runId: pass.runId });
    if (child.disabled) pass.tally.enable++;
    else pass.tally.update++;
    await this.start(pass, updated);
  }

  private async disable(pass: Pass, child: JobRecord): Promise<void> {
    if (child.state !== 'STOPPED') await this.deps.engine.stopJob(child, pass.actor, { reason: 'its resolver no longer lists it' });
    const updated = await this.deps.store.jobs.update(child.id, { disabled: true });
    if (updated) await this.deps.engine.event(updated, 'updated', pass.actor, { disabled: true, runId: pass.runId });
    pass.tally.disable++;
  }

  /** MANUAL sub-jobs only run when triggered; a schedule that already ended leaves the sub-job STOPPED. */
  private async start(pass: Pass, job: JobRecord): Promise<void> {
    if (job.schedule.type === 'MANUAL') return;
    try {
      await this.deps.engine.startJob(job, pass.actor);
    } catch (err) {
      if (!hasCode(err, 'UNPROCESSABLE')) throw err;
      this.deps.logger.warn('sub-job not started', { jobId: job.id, resolverId: pass.resolver.id, runId: pass.runId, error: serializeError(err).message });
    }
  }
}
