/**
 * One host per data folder, whatever database each uses: a lock file in the folder names its holder (host id,
 * instance, pid, machine). The holder touches it at every lease renewal. A lock is stale, and taken over, when its
 * pid is dead on this machine, or when it was not touched for a lease's length (a holder on another machine or in
 * another container, whose pid cannot be checked from here).
 */
import { link, mkdir, readFile, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { conflict, leaseLost } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { HostIdentity } from '../domain/index.js';

const LOCK_FILE = 'jobcenter.lock';
/** Taking over a stale lock happens under this folder (mkdir is atomic), so two hosts cannot both take it over. */
const TAKEOVER = `${LOCK_FILE}.takeover`;
/** A takeover folder older than this was left by a host that died in the middle of one. */
const TAKEOVER_STALE_MS = 10_000;
const ATTEMPTS = 50;

/** What the lock file says of its holder. */
export interface FolderHolder extends HostIdentity {
  startedAt: string;
  /** The database it uses, without credentials. */
  db: string;
}

export interface DataDirLock {
  /** Renews the lock; throws when another host took it over (this host was not renewing it for too long). */
  touch(): Promise<void>;
  /** Removes the lock when it is still this host's. */
  release(): Promise<void>;
}

interface Found {
  holder: FolderHolder | null;
  text: string;
  touchedAt: number;
}

export async function lockDataDir(opts: { dir: string; holder: FolderHolder; staleMs: number; logger: Logger }): Promise<DataDirLock> {
  const file = path.join(opts.dir, LOCK_FILE);
  const mine = JSON.stringify(opts.holder);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    if (await create(file, mine, opts.holder.instance)) return heldLock(file, opts.holder.instance);
    const found = await readLock(file);
    if (!found) continue;
    if (isLive(found, opts.staleMs)) throw conflict(`another JobCenter host uses the data folder ${opts.dir}: ${describeHolder(found)}`, found.holder);
    if (await removeStale(opts.dir, file, found, opts.staleMs)) {
      opts.logger.warn('took over the data folder from a host that is gone', { dataDir: opts.dir, previous: found.holder ?? found.text });
    } else {
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
  throw new Error(`could not take the lock of the data folder ${opts.dir} (${file}) after ${ATTEMPTS} attempts`);
}

/** The lock appears whole or not at all: written beside it, then linked into place (link fails when it exists). */
async function create(file: string, text: string, instance: string): Promise<boolean> {
  const temp = `${file}.${instance}`;
  await writeFile(temp, text, { mode: 0o644 });
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if (codeOf(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

function heldLock(file: string, instance: string): DataDirLock {
  const stillMine = async (): Promise<Found | null> => {
    const found = await readLock(file);
    return found?.holder?.instance === instance ? found : null;
  };
  return {
    async touch() {
      if (!(await stillMine())) {
        const found = await readLock(file);
        throw leaseLost(`the data folder's lock is no longer this host's: ${found ? describeHolder(found) : 'the lock file is gone'}`);
      }
      const now = new Date();
      await utimes(file, now, now);
    },
    async release() {
      if (await stillMine()) await unlink(file).catch(() => undefined);
    },
  };
}

async function readLock(file: string): Promise<Found | null> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { holder: parseHolder(text), text, touchedAt: info.mtimeMs };
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return null;
    throw err;
  }
}

function parseHolder(text: string): FolderHolder | null {
  try {
    const value = JSON.parse(text) as Partial<FolderHolder>;
    return typeof value.instance === 'string' && typeof value.pid === 'number' ? (value as FolderHolder) : null;
  } catch {
    return null;
  }
}

function isLive(found: Found, staleMs: number): boolean {
  if (Date.now() - found.touchedAt > staleMs) return false;
  const holder = found.holder;
  if (holder && holder.hostname === os.hostname()) return pidAlive(holder.pid);
  return true;
}

function pidAlive(pid: number): boolean {
  try {
    // Signal 0 only asks whether the process exists.
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return codeOf(err) === 'EPERM';
  }
}

/** Removes the stale lock under the takeover folder, only if it is still the one found stale. True when removed. */
async function removeStale(dir: string, file: string, stale: Found, staleMs: number): Promise<boolean> {
  const guard = path.join(dir, TAKEOVER);
  try {
    await mkdir(guard);
  } catch (err) {
    if (codeOf(err) !== 'EEXIST') throw err;
    const info = await stat(guard).catch(() => null);
    if (info && Date.now() - info.mtimeMs > TAKEOVER_STALE_MS) await rmdir(guard).catch(() => undefined);
    return false;
  }
  try {
    const again = await readLock(file);
    if (!again || again.text !== stale.text || isLive(again, staleMs)) return false;
    await unlink(file);
    return true;
  } finally {
    await rmdir(guard).catch(() => undefined);
  }
}

function describeHolder(found: Found): string {
  const holder = found.holder;
  const touched = `last renewed ${new Date(found.touchedAt).toISOString()}`;
  if (!holder) return `an unreadable lock file, ${touched}`;
  return `host "${holder.hostId}" (pid ${holder.pid} on ${holder.hostname}, database ${holder.db}, started ${holder.startedAt}, ${touched})`;
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}
