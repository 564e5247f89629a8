/**
 * An in-memory JobCache with the host cache's semantics: values are structured-cloned on the way in and out (so a
 * job cannot keep a live reference), and a ttl makes a value disappear.
 */
import type { JobCache } from '@jobcenter/job-api';

/**
 * Expiry times live on the Map object itself (under a symbol), so a Map handed to several local runs keeps its
 * ttl across them while its plain entries stay the values a test can seed and inspect.
 */
const EXPIRES_AT = Symbol.for('jobcenter.sdk.cache.expiresAt');
type CacheStore = Map<string, unknown> & { [EXPIRES_AT]?: Map<string, number> };

/**
 * Makes a {@link JobCache} backed by `store`. Pass the same Map to several runs to see values kept across runs.
 *
 * @param store where values are kept (plain values, keyed by cache key); a new Map when absent
 * @param now the clock used for ttl (ms since the epoch); `Date.now` when absent
 *
 * @example
 * ```ts
 * import { createMemoryCache } from '@jobcenter/sdk';
 * const store = new Map<string, unknown>([['runs', 2]]);
 * const cache = createMemoryCache(store);
 * await cache.set('token', 'abc', { ttlMs: 60_000 });
 * await cache.get<number>('runs'); // → 2
 * ```
 */
export function createMemoryCache(store: Map<string, unknown> = new Map(), now: () => number = Date.now): JobCache {
  const map = store as CacheStore;
  const expiries = (map[EXPIRES_AT] ??= new Map<string, number>());
  const expired = (key: string): boolean => {
    const at = expiries.get(key);
    if (at === undefined || at > now()) return false;
    map.delete(key);
    expiries.delete(key);
    return true;
  };
  return {
    async get<T = unknown>(key: string): Promise<T | undefined> {
      assertKey(key);
      if (expired(key) || !map.has(key)) return undefined;
      return structuredClone(map.get(key)) as T;
    },
    async set(key: string, value: unknown, opts?: { ttlMs?: number }): Promise<void> {
      assertKey(key);
      const ttlMs = opts?.ttlMs;
      if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
        throw new RangeError(`cache ttlMs must be a positive number of milliseconds, got ${String(ttlMs)}`);
      }
      // Cloning first means a value that cannot cross to the host (a function, a socket) fails here too.
      map.set(key, structuredClone(value));
      if (ttlMs === undefined) expiries.delete(key);
      else expiries.set(key, now() + ttlMs);
    },
    async delete(key: string): Promise<void> {
      assertKey(key);
      map.delete(key);
      expiries.delete(key);
    },
  };
}

function assertKey(key: unknown): void {
  if (typeof key !== 'string' || key === '') throw new TypeError('cache key must be a non-empty string');
}
