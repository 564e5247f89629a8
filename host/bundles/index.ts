/**
 * Bundle intake: store the uploaded zip by SHA-256, extract it safely into a fresh folder, validate
 * `jobcenter.json`, and list the main module's jobs and resolvers. It never touches the database: the caller
 * records the version and decides what becomes current.
 */
import { stat } from 'node:fs/promises';
import { createBundleFileStore } from '../blob/bundle-files.js';
import type { HostConfig } from '../config/index.js';
import { HostError, unprocessable } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { BundleExport, BundleManifest } from '../domain/index.js';
import { extractZip, messageOf } from './extract.js';
import { mainPath, readManifest } from './manifest.js';

export type { BundleExport, BundleManifest };

export interface IntakeResult {
  sha256: string;
  /** Size of the zip in bytes. */
  size: number;
  /** Absolute path of the extracted folder, `<bundlesDir>/<projectId>/<sha256>-<random>`. */
  dir: string;
  manifest: BundleManifest;
  /** Jobs and resolvers of the main module; [] for exec and isolate bundles. */
  exports: BundleExport[];
}

export interface BundleIntake {
  /** Rejects with a HostError: UNPROCESSABLE (bad zip, manifest or main module) or TOO_LARGE (a size limit). */
  /**
   * `accept` sees the manifest before any of the bundle's code is loaded (introspection loads the main module) and
   * may refuse it by throwing (a HostError reaches the client as it is).
   */
  intake(zipPath: string, opts: { projectId: number; accept?(manifest: BundleManifest): void }): Promise<IntakeResult>;
  /** Removes an extracted bundle folder (only folders under bundlesDir). */
  remove(dir: string): Promise<void>;
}

/**
 * Lists the jobs and resolvers a main module exports, or rejects with UNPROCESSABLE saying why it cannot load.
 * The executors room implements it (host/executors/introspect/bundle-scanner.ts): it knows how each kind is loaded.
 */
export type BundleScanner = (kind: 'thread' | 'module' | 'isolate', mainFile: string) => Promise<BundleExport[]>;

export function createBundleIntake(deps: { config: HostConfig; logger: Logger; scan: BundleScanner }): BundleIntake {
  const { config } = deps;
  const logger = deps.logger.child({ part: 'bundles' });
  const files = createBundleFileStore({ bundlesDir: config.bundlesDir, maxZipBytes: config.maxBundleBytes });

  async function inspect(dir: string, accept?: (manifest: BundleManifest) => void): Promise<{ manifest: BundleManifest; exports: BundleExport[] }> {
    const manifest = await readManifest(dir);
    accept?.(manifest);
    const main = mainPath(dir, manifest);
    if (main === null || manifest.kind === 'exec') return { manifest, exports: [] };
    const exports = await deps.scan(manifest.kind, main);
    if (exports.length === 0) {
      throw unprocessable(`main module ${JSON.stringify(manifest.main)} exports no jobs or resolvers (values with an execute or resolve method)`);
    }
    checkExports(exports);
    return { manifest, exports };
  }

  return {
    async intake(zipPath, opts) {
      await assertReadableFile(zipPath);
      const stored = await files.storeZip(zipPath);
      const staging = await files.createStaging();
      try {
        await extractZip(stored.path, staging, {
          maxEntries: config.maxBundleEntries,
          maxUnpackedBytes: config.maxBundleUnpackedBytes,
        });
        const { manifest, exports } = await inspect(staging, opts.accept);
        const dir = await files.commitStaging(staging, opts.projectId, stored.sha256);
        logger.info('bundle accepted', { projectId: opts.projectId, sha256: stored.sha256, name: manifest.name, dir });
        return { sha256: stored.sha256, size: stored.size, dir, manifest, exports };
      } catch (err) {
        await files.removeDir(staging);
        // A refused upload keeps no blob, unless an earlier upload with the same content stored it.
        if (!stored.existed) await files.removeZip(stored.sha256);
        logger.info('bundle refused', { projectId: opts.projectId, sha256: stored.sha256, reason: messageOf(err) });
        throw err instanceof HostError ? err : unprocessable(`bundle could not be taken in: ${messageOf(err)}`);
      }
    },

    remove(dir) {
      return files.removeDir(dir);
    },
  };
}

/**
 * The exports are stored with the bundle row and listed by every GET …/bundles: their number and names are bounded
 * as the manifest is. A job's entry names an export in at most 200 characters, so a longer name could not be used.
 */
const MAX_EXPORTS = 1_000;
const MAX_EXPORT_NAME = 200;

function checkExports(exports: readonly BundleExport[]): void {
  if (exports.length > MAX_EXPORTS) throw unprocessable(`main module exports ${exports.length} jobs and resolvers; a bundle may have at most ${MAX_EXPORTS}`);
  const long = exports.find((e) => e.name.length > MAX_EXPORT_NAME);
  if (long) throw unprocessable(`main module exports a job named "${long.name.slice(0, 50)}…" (${long.name.length} characters); names may have at most ${MAX_EXPORT_NAME}`);
}

async function assertReadableFile(zipPath: string): Promise<void> {
  try {
    if (!(await stat(zipPath)).isFile()) throw new Error('not a file');
  } catch (err) {
    throw new HostError('BAD_REQUEST', `bundle upload ${JSON.stringify(zipPath)} is not a readable file: ${messageOf(err)}`);
  }
}
