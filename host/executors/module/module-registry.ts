/**
 * The module contexts of the module executor: one per (project, bundle version, profile, memory limit), each in its
 * own worker: a context's heap limit is fixed when its worker starts, so jobs of one version with different
 * `memoryLimitMb` get contexts of their own, and each runs under its own limit. A context
 * of a version that is no longer current is "retiring": it serves the runs already on it, then its onStop runs and
 * its worker ends. A context that ended (crashed, killed, failed to boot) is replaced by a fresh one on next use.
 * A blocked context (module-thread.ts) is retired too, and a fresh one takes the new runs, unless a context of the
 * same version retired as blocked is still alive: then at most MAX_CONTEXTS live, and new runs wait on the blocked one.
 * A new context adopts a spare worker of its memory limit, started ahead of need (module-spares.ts), and once it has
 * booted, the next spare of that limit starts.
 */
import type { Logger } from '../../log/logger.js';
import type { ModuleBoot } from './module-protocol.js';
import { ModuleThread } from './module-thread.js';
import { SpareWorkers, type SpareStats } from './module-spares.js';

export interface ContextKey {
  readonly projectId: number;
  readonly bundleId: number;
  /** The job profile whose config the context was booted with (null: the manifest's, or none). */
  readonly profile: string | null;
  /** The heap limit the context's worker was started with. */
  readonly memoryLimitMb: number;
}

export interface ContextEntry extends ContextKey {
  readonly thread: ModuleThread;
  /** Runs holding this context (waiting for its boot or running on it). */
  inFlight: number;
  retiring: boolean;
}

export interface RegistrySettings {
  readonly env: Readonly<Record<string, string>>;
  readonly bootTimeoutMs: number;
  /** How long a retiring context's onStop may take before its worker is terminated anyway. */
  readonly stopGraceMs: number;
  readonly logger: Logger;
}

/** Live contexts of one version (and profile) at most: the current one and one retired because it was blocked. */
const MAX_CONTEXTS = 2;

export class ContextRegistry {
  readonly #entries = new Map<string, ContextEntry>();
  /** Contexts retired because they were blocked, until they stop or end. */
  readonly #blocked = new Set<ContextEntry>();
  /** Stops under way (retired contexts), so close() can wait for them. */
  readonly #stopping = new Set<Promise<void>>();
  readonly #settings: RegistrySettings;
  readonly #spares: SpareWorkers;

  constructor(settings: RegistrySettings) {
    this.#settings = settings;
    this.#spares = new SpareWorkers(settings.env, settings.logger);
  }

  /** The live context of this version, booting one when there is none; `current` false marks it retiring. */
  acquire(key: ContextKey, boot: { data: ModuleBoot }, current: boolean): ContextEntry {
    const id = keyOf(key);
    let entry = this.#entries.get(id);
    if (entry && entry.thread.blocked && this.#blockedOf(key) + 1 < MAX_CONTEXTS) {
      entry.retiring = true;
      this.#blocked.add(entry);
      entry = undefined;
    }
    if (!entry || entry.thread.state === 'ended') {
      const logger = this.#settings.logger.child({ projectId: key.projectId, bundleId: key.bundleId, ...(key.profile === null ? {} : { profile: key.profile }) });
      const worker = this.#spares.take(key.memoryLimitMb);
      const thread = new ModuleThread({ ...boot, worker, memoryLimitMb: key.memoryLimitMb, bootTimeoutMs: this.#settings.bootTimeoutMs, logger });
      entry = { ...key, thread, inFlight: 0, retiring: false };
      this.#entries.set(id, entry);
      thread.ready.then(() => this.#spareFor(key.memoryLimitMb), () => this.#spareFor(key.memoryLimitMb));
    }
    entry.inFlight++;
    if (!current) entry.retiring = true;
    return entry;
  }

  release(entry: ContextEntry): void {
    entry.inFlight--;
    if (entry.thread.state === 'ended') {
      this.#forget(entry);
      this.#blocked.delete(entry);
    }
    else if (entry.retiring && entry.inFlight === 0) this.#stop(entry, this.#settings.stopGraceMs);
  }

  /** Marks the project's contexts of other versions retiring; the idle ones stop now. */
  retire(projectId: number, keepBundleId: number | null): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.projectId !== projectId || entry.bundleId === keepBundleId) continue;
      entry.retiring = true;
      if (entry.inFlight === 0) stops.push(this.#stop(entry, this.#settings.stopGraceMs));
    }
    return Promise.all(stops).then(() => undefined);
  }

  /** Stops every context (onStop within graceMs each, in parallel), and waits for stops already under way. */
  async stopAll(graceMs: number): Promise<void> {
    const spares = this.#spares.close();
    const stops = [...this.#entries.values(), ...this.#blocked].map((entry) => this.#stop(entry, graceMs));
    await Promise.all([spares, ...stops, ...this.#stopping]);
  }

  /** Spare workers waiting for a context, and how many were adopted (module-spares.ts). */
  spares(): SpareStats {
    return this.#spares.stats();
  }

  /** The next spare of this limit while a context of that limit lives; once the last one is gone, it lingers a while. */
  #spareFor(memoryLimitMb: number): void {
    if (this.#live(memoryLimitMb)) this.#spares.prepare(memoryLimitMb);
    else this.#spares.linger(memoryLimitMb);
  }

  #live(memoryLimitMb: number): boolean {
    for (const entry of [...this.#entries.values(), ...this.#blocked]) {
      if (entry.memoryLimitMb === memoryLimitMb && entry.thread.state !== 'ended' && entry.thread.state !== 'stopping') return true;
    }
    return false;
  }

  /** Live module workers (tests and metrics). */
  threadCount(): number {
    return [...this.#entries.values(), ...this.#blocked].filter((entry) => entry.thread.state !== 'ended').length;
  }

  #blockedOf(key: ContextKey): number {
    let n = 0;
    for (const entry of this.#blocked) if (keyOf(entry) === keyOf(key) && entry.thread.state !== 'ended') n++;
    return n;
  }

  #stop(entry: ContextEntry, graceMs: number): Promise<void> {
    this.#forget(entry);
    this.#blocked.delete(entry);
    this.#spareFor(entry.memoryLimitMb);
    const stopping = entry.thread.stop(graceMs).catch((err: unknown) => {
      this.#settings.logger.warn('module context did not stop cleanly', { projectId: entry.projectId, err: String(err) });
    });
    this.#stopping.add(stopping);
    void stopping.finally(() => this.#stopping.delete(stopping));
    return stopping;
  }

  #forget(entry: ContextEntry): void {
    const id = keyOf(entry);
    if (this.#entries.get(id) === entry) this.#entries.delete(id);
  }
}

function keyOf(key: ContextKey): string {
  return `${key.projectId}:${key.bundleId}:${key.memoryLimitMb}:${key.profile ?? ''}`;
}
