/**
 * The cache `jobcenter-sdk run` keeps between invocations: one file per job under `<dir>/.jobcenter/cache/`,
 * written with v8 serialization so every structured-cloneable value (Dates, Maps, …) survives, as on the host.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { deserialize, serialize } from 'node:v8';

/** The symbol the SDK's memory cache keeps ttl expiries under (see ../cache.ts); shared so ttl survives a save. */
const EXPIRES_AT = Symbol.for('jobcenter.sdk.cache.expiresAt');
type Store = Map<string, unknown> & { [EXPIRES_AT]?: Map<string, number> };

interface Saved {
  values: [string, unknown][];
  expiresAt: [string, number][];
}

export function cacheFile(dir: string, job: string): string {
  return join(dir, '.jobcenter', 'cache', `${encodeURIComponent(job)}.v8`);
}

/** The saved store of `job`, or an empty one. A file that cannot be read is reported, then ignored. */
export async function loadCache(file: string, warn: (message: string) => void): Promise<Store> {
  const store: Store = new Map();
  if (!existsSync(file)) return store;
  try {
    const saved = deserialize(await readFile(file)) as Saved;
    for (const [k, v] of saved.values) store.set(k, v);
    store[EXPIRES_AT] = new Map(saved.expiresAt);
  } catch (err) {
    warn(`ignoring unreadable cache ${file}: ${(err as Error).message}`);
  }
  return store;
}

export async function saveCache(file: string, store: Store): Promise<void> {
  const saved: Saved = { values: [...store], expiresAt: [...(store[EXPIRES_AT] ?? new Map<string, number>())] };
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, serialize(saved));
  await rename(partial, file);
}

export async function clearCache(file: string): Promise<void> {
  await rm(file, { force: true });
}
