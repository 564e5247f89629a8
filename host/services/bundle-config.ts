/**
 * A job's configFile and profile checked against the config files of the project's bundle, at creation and at edit
 * (as its entry is checked against the bundle's exports): a 422 that lists the files beats runs that fail on a
 * missing file. A run whose file went missing later (a new bundle version) fails with the same words, naming the
 * file inside the bundle, never where the host keeps it.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { profileFileName } from '@jobcenter/config';
import { unprocessable } from '../errors/index.js';
import type { BundleRecord, JobRecord } from '../domain/index.js';

/** Bundle versions whose listing is kept; past this the map starts over. */
const MAX_KNOWN = 10_000;

/** The `.properties` files in a bundle's config/ folder, sorted; null when the bundle's folder is not on this host. */
export async function configFilesIn(bundleDir: string): Promise<string[] | null> {
  try {
    const entries = await readdir(path.join(bundleDir, 'config'), { withFileTypes: true });
    return entries.filter((e) => e.isFile() && e.name.endsWith('.properties')).map((e) => e.name).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    return existsSync(bundleDir) ? [] : null;
  }
}

/** Why a job's config cannot load from this bundle (field: configFile or profile), or null when it can. */
export function missingConfig(bundle: Pick<BundleRecord, 'version'>, files: readonly string[], job: Pick<JobRecord, 'configFile' | 'profile'>): { field: string; message: string } | null {
  if (!job.configFile) return null;
  const has = `its config/ folder has ${files.length ? files.join(', ') : 'no .properties files'}`;
  if (!files.includes(job.configFile)) {
    return { field: 'configFile', message: `configFile ${job.configFile} is not in the project's bundle (version ${bundle.version}): ${has}` };
  }
  if (!job.profile) return null;
  const overlay = profileFileName(job.configFile, job.profile);
  if (files.includes(overlay)) return null;
  return { field: 'profile', message: `profile ${job.profile} needs config/${overlay}, which the project's bundle (version ${bundle.version}) does not have: ${has}` };
}

export class BundleConfigFiles {
  /** A bundle version never changes once stored, so its listing is read once. */
  readonly #known = new Map<number, Promise<string[] | null>>();

  /** 422 naming configFile (or profile) and listing the bundle's config files when the job's config cannot load. */
  async assertLoadable(bundle: BundleRecord | null, job: Pick<JobRecord, 'configFile' | 'profile'>, projectName: string): Promise<void> {
    if (!job.configFile) return;
    if (!bundle) throw unprocessable(`configFile ${job.configFile} is read from the project's bundle, and project ${projectName} has none yet (configFile)`, { field: 'configFile' });
    const files = await this.#filesOf(bundle);
    if (files === null) return;
    const missing = missingConfig(bundle, files, job);
    if (missing) throw unprocessable(`${missing.message} (${missing.field})`, { field: missing.field, configFiles: files });
  }

  #filesOf(bundle: BundleRecord): Promise<string[] | null> {
    let files = this.#known.get(bundle.id);
    if (!files) {
      if (this.#known.size >= MAX_KNOWN) this.#known.clear();
      files = configFilesIn(bundle.dir);
      this.#known.set(bundle.id, files);
      files.catch(() => this.#known.delete(bundle.id));
    }
    return files;
  }
}
