/**
 * On an empty database, the CLI creates a project per built sample bundle (dist/samples/<name>.zip), uploads it
 * and creates its jobs from <name>.jobs.json, so a first start has something to look at.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostConfig } from '../config/index.js';
import { serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/types.js';
import type { JobService } from './jobs.js';
import type { ProjectService } from './projects.js';

export interface SeedDeps {
  config: HostConfig;
  store: Store;
  projects: ProjectService;
  jobs: JobService;
  logger: Logger;
}

export function defaultSamplesDir(): string {
  return fileURLToPath(new URL('../../samples/', import.meta.url));
}

export async function seedSamples(deps: SeedDeps): Promise<string[]> {
  if ((await deps.store.projects.list()).length > 0) return [];
  const dir = deps.config.samplesDir ?? defaultSamplesDir();
  if (!existsSync(dir)) {
    deps.logger.warn('no sample bundles to seed (run npm run build)', { dir });
    return [];
  }
  const admin = await deps.store.users.findByUsername('admin');
  const seeded: string[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.zip')).sort()) {
    const name = file.slice(0, -'.zip'.length);
    try {
      await seedOne(deps, dir, name, admin?.id ?? 1);
      seeded.push(name);
    } catch (err) {
      deps.logger.warn('could not seed a sample', { sample: name, error: serializeError(err).message });
    }
  }
  deps.logger.info('seeded sample projects', { samples: seeded });
  return seeded;
}

async function seedOne(deps: SeedDeps, dir: string, name: string, ownerId: number): Promise<void> {
  // Trusted: the samples are the admin's own code, shipped with the host (thread, module and exec among them).
  const project = await deps.store.projects.create({ name, description: `Sample project "${name}" (samples/${name})`, ownerId, trusted: true });
  await deps.projects.uploadBundle(null, project.id, path.join(dir, `${name}.zip`));
  const jobsFile = path.join(dir, `${name}.jobs.json`);
  if (!existsSync(jobsFile)) return;
  const specs = JSON.parse(await readFile(jobsFile, 'utf8')) as Record<string, unknown>[];
  for (const spec of specs) {
    await deps.jobs.create(null, { ...spec, projectId: project.id });
  }
}
