/**
 * The piscina pools of the thread executor: one per (project, bundle version, memory limit). A pool of a version
 * that is no longer current is "retiring": it finishes its in-flight runs and is destroyed once they drain.
 * Piscina keeps accepting run() after close()/destroy(), so routing away from a retired pool happens here.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Logger } from '../log/logger.js';
import type { ThreadTask, ThreadTaskResult } from './protocol.js';

export interface PoolKey {
  readonly projectId: number;
  readonly bundleId: number;
  readonly memoryLimitMb: number;
}

export interface PoolEntry extends PoolKey {
  readonly pool: Piscina<ThreadTask, ThreadTaskResult>;
  inFlight: number;
  retiring: boolean;
}

export interface PoolSettings {
  readonly maxThreads: number;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
}

/** The worker file, compiled (dist/…/thread-worker.js) or under tsx (host/…/thread-worker.ts). */
export function workerFilename(): string {
  const js = new URL('./thread-worker.js', import.meta.url);
  return fileURLToPath(existsSync(js) ? js : new URL('./thread-worker.ts', import.meta.url));
}

/** The worker's environment: the host's, minus JOBCENTER_* (the admin password must not reach job code). */
export function workerEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !name.startsWith('JOBCENTER_')) out[name] = value;
  }
  return out;
}

export class PoolRegistry {
  readonly #pools = new Map<string, PoolEntry>();
  readonly #settings: PoolSettings;
  readonly #filename = workerFilename();

  constructor(settings: PoolSettings) {
    this.#settings = settings;
  }

  /**
   * The live pool for this key, creating it (a destroyed pool is never handed out). `current` false marks the pool
   * retiring, so a run pinned to an older version does not keep that version's threads alive afterwards.
   */
  acquire(key: PoolKey, current: boolean): PoolEntry {
    const id = keyOf(key);
    let entry = this.#pools.get(id);
    if (!entry) {
      entry = { ...key, pool: this.#createPool(key), inFlight: 0, retiring: false };
      this.#pools.set(id, entry);
    }
    entry.inFlight++;
    if (!current) entry.retiring = true;
    return entry;
  }

  async release(entry: PoolEntry): Promise<void> {
    entry.inFlight--;
    if (entry.retiring && entry.inFlight === 0) await this.#destroy(entry);
  }

  /** Marks pools of the project whose version is not `keepBundleId` as retiring; destroys the idle ones now. */
  async retire(projectId: number, keepBundleId: number | null): Promise<void> {
    const idle: PoolEntry[] = [];
    for (const entry of this.#pools.values()) {
      if (entry.projectId !== projectId || entry.bundleId === keepBundleId) continue;
      entry.retiring = true;
      if (entry.inFlight === 0) idle.push(entry);
    }
    await Promise.all(idle.map((entry) => this.#destroy(entry)));
  }

  async destroyAll(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((entry) => this.#destroy(entry)));
  }

  /** Live worker threads over all pools (tests and metrics). */
  threadCount(): number {
    let n = 0;
    for (const entry of this.#pools.values()) n += entry.pool.threads.length;
    return n;
  }

  entries(): readonly PoolEntry[] {
    return [...this.#pools.values()];
  }

  async #destroy(entry: PoolEntry): Promise<void> {
    const id = keyOf(entry);
    if (this.#pools.get(id) !== entry) return;
    this.#pools.delete(id);
    await entry.pool.destroy().catch((err: unknown) => {
      this.#settings.logger.warn('thread pool did not close cleanly', { projectId: entry.projectId, err: String(err) });
    });
  }

  #createPool(key: PoolKey): Piscina<ThreadTask, ThreadTaskResult> {
    const pool = new Piscina<ThreadTask, ThreadTaskResult>({
      filename: this.#filename,
      name: 'default',
      minThreads: 0,
      maxThreads: this.#settings.maxThreads,
      idleTimeout: this.#settings.idleTimeoutMs,
      // 'sync' would park an idle worker in Atomics.wait, freezing any timer a job left behind.
      atomics: 'disabled',
      resourceLimits: { maxOldGenerationSizeMb: key.memoryLimitMb },
      env: workerEnv(process.env),
    });
    // Without a listener an uncaught error between tasks would be thrown in the host.
    pool.on('error', (err: unknown) => {
      this.#settings.logger.warn('thread pool worker failed outside a run', { projectId: key.projectId, err: String(err) });
    });
    return pool;
  }
}

function keyOf(key: PoolKey): string {
  return `${key.projectId}:${key.bundleId}:${key.memoryLimitMb}`;
}

/**
 * Which bundle version of each project an executor treats as current: the newest it has seen. Seeing a newer one
 * calls onNewer (the executor retires what it holds of older versions).
 */
export class CurrentVersions {
  readonly #latest = new Map<number, number>();
  readonly #onNewer: (projectId: number, bundleId: number) => void;

  constructor(onNewer: (projectId: number, bundleId: number) => void) {
    this.#onNewer = onNewer;
  }

  isCurrent(projectId: number, bundleId: number): boolean {
    const latest = this.#latest.get(projectId);
    if (latest !== undefined && bundleId < latest) return false;
    if (latest !== bundleId) {
      this.#latest.set(projectId, bundleId);
      if (latest !== undefined) this.#onNewer(projectId, bundleId);
    }
    return true;
  }

  /** The host retired every version but keepBundleId (null: the project's code is gone). */
  retired(projectId: number, keepBundleId: number | null): void {
    if (keepBundleId === null) this.#latest.delete(projectId);
    else this.#latest.set(projectId, Math.max(keepBundleId, this.#latest.get(projectId) ?? keepBundleId));
  }
}
