/**
 * The thread pools of the thread executor: one per (project, bundle version, memory limit). A pool of a version
 * that is no longer current is "retiring": it finishes its in-flight runs and is destroyed once they drain; no new
 * run is routed to a destroyed pool (a later run of that key gets a fresh one).
 */
import type { Logger } from '../../log/logger.js';
import { ThreadPool } from './thread-pool.js';

export interface PoolKey {
  readonly projectId: number;
  readonly bundleId: number;
  readonly memoryLimitMb: number;
}

export interface PoolEntry extends PoolKey {
  readonly pool: ThreadPool;
  inFlight: number;
  retiring: boolean;
}

export interface PoolSettings {
  /** The workers' environment (HostConfig.jobEnv). */
  readonly env: Readonly<Record<string, string>>;
  readonly maxThreads: number;
  readonly runsPerWorker: number;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
}

export class PoolRegistry {
  readonly #pools = new Map<string, PoolEntry>();
  readonly #settings: PoolSettings;
  /** Pools being destroyed, with the end of it: their threads still count until they have exited. */
  readonly #closing = new Map<ThreadPool, Promise<void>>();
  /** The entry the last acquire handed out: a burst's runs mostly go to one pool (no key string made for them). */
  #last: PoolEntry | null = null;

  constructor(settings: PoolSettings) {
    this.#settings = settings;
  }

  /**
   * The live pool for this key, creating it (a destroyed pool is never handed out). `current` false marks the pool
   * retiring, so a run pinned to an older version does not keep that version's threads alive afterwards.
   */
  acquire(key: PoolKey, mainUrl: string, current: boolean): PoolEntry {
    let entry = this.#last;
    if (!entry || entry.projectId !== key.projectId || entry.bundleId !== key.bundleId || entry.memoryLimitMb !== key.memoryLimitMb) {
      const id = keyOf(key);
      entry = this.#pools.get(id) ?? null;
      if (!entry) {
        entry = { projectId: key.projectId, bundleId: key.bundleId, memoryLimitMb: key.memoryLimitMb, pool: this.#createPool(key, mainUrl), inFlight: 0, retiring: false };
        this.#pools.set(id, entry);
      }
      this.#last = entry;
    }
    entry.inFlight++;
    if (!current) entry.retiring = true;
    return entry;
  }

  /** A retiring pool whose last run this was is destroyed in the background (destroyAll still waits for it). */
  release(entry: PoolEntry): void {
    entry.inFlight--;
    if (entry.retiring && entry.inFlight === 0) void this.#destroy(entry);
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
    await Promise.all([...this.#closing.values()]);
  }

  /** Sends what every pool's workers have waiting in their batches now. */
  flush(): void {
    for (const entry of this.#pools.values()) entry.pool.flush();
  }

  /** Live worker threads over all pools (tests and metrics). */
  threadCount(): number {
    let n = 0;
    for (const entry of this.#pools.values()) n += entry.pool.threadCount();
    for (const pool of this.#closing.keys()) n += pool.threadCount();
    return n;
  }

  async #destroy(entry: PoolEntry): Promise<void> {
    const id = keyOf(entry);
    if (this.#pools.get(id) !== entry) return;
    this.#pools.delete(id);
    if (this.#last === entry) this.#last = null;
    const done = entry.pool.destroy().finally(() => this.#closing.delete(entry.pool));
    this.#closing.set(entry.pool, done);
    await done;
  }

  #createPool(key: PoolKey, mainUrl: string): ThreadPool {
    const { env, maxThreads, runsPerWorker, idleTimeoutMs, logger } = this.#settings;
    return new ThreadPool({ mainUrl, env, memoryLimitMb: key.memoryLimitMb, maxWorkers: maxThreads, runsPerWorker, idleTimeoutMs, logger });
  }
}

function keyOf(key: PoolKey): string {
  return `${key.projectId}:${key.bundleId}:${key.memoryLimitMb}`;
}
