/**
 * Where bundle files live on the local disk: the uploaded zips by content hash, private staging folders for
 * extraction, and one extracted folder per upload. Every path this module hands out or removes stays inside
 * bundlesDir.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HostError, tooLarge } from '../errors/index.js';

export interface StoredZip {
  sha256: string;
  size: number;
  /** Absolute path of `<bundlesDir>/blobs/<sha256>.zip`. */
  path: string;
  /** The same content was stored before (by an earlier upload). */
  existed: boolean;
}

export interface BundleFileStore {
  /** Copies the zip into the blob folder, hashing while copying; the same content twice is fine. */
  storeZip(srcPath: string): Promise<StoredZip>;
  /** Deletes a stored zip (a refused upload's, when no earlier upload had the same content). */
  removeZip(sha256: string): Promise<void>;
  /** A fresh, empty, private (0700) folder on the same disk as the bundle folders. */
  createStaging(): Promise<string>;
  /** Moves a finished staging folder to `<bundlesDir>/<projectId>/<sha256>-<random>/` and returns that path. */
  commitStaging(staging: string, projectId: number, sha256: string): Promise<string>;
  /** Removes a folder under bundlesDir (extracted bundle or staging); refuses anything else. */
  removeDir(dir: string): Promise<void>;
}

export function createBundleFileStore(opts: { bundlesDir: string; maxZipBytes: number }): BundleFileStore {
  const root = path.resolve(opts.bundlesDir);
  const blobsDir = path.join(root, 'blobs');
  const stagingRoot = path.join(root, '.staging');

  function blobPath(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new HostError('BAD_REQUEST', `not a sha256: ${JSON.stringify(sha256)}`);
    return path.join(blobsDir, `${sha256}.zip`);
  }

  function assertInside(dir: string): string {
    const abs = path.resolve(dir);
    const rel = path.relative(root, abs);
    if (rel === '' || rel.startsWith(`..${path.sep}`) || rel === '..' || path.isAbsolute(rel)) {
      throw new HostError('BAD_REQUEST', `refusing to remove ${abs}: not a folder under ${root}`);
    }
    return abs;
  }

  return {
    async storeZip(srcPath) {
      await mkdir(blobsDir, { recursive: true });
      const tmp = path.join(blobsDir, `.upload-${randomBytes(8).toString('hex')}`);
      const hash = createHash('sha256');
      let size = 0;
      // Counting and hashing in one pass: the upload may be large and is read exactly once.
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > opts.maxZipBytes) {
            cb(tooLarge(`bundle zip is larger than the limit of ${opts.maxZipBytes} bytes`));
            return;
          }
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(createReadStream(srcPath), meter, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
        const sha256 = hash.digest('hex');
        const finalPath = blobPath(sha256);
        const existed = existsSync(finalPath);
        // Renaming over an existing blob of the same hash is harmless: identical content.
        await rename(tmp, finalPath);
        return { sha256, size, path: finalPath, existed };
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async removeZip(sha256) {
      await rm(blobPath(sha256), { force: true });
    },

    async createStaging() {
      await mkdir(stagingRoot, { recursive: true, mode: 0o700 });
      return mkdtemp(path.join(stagingRoot, 'x-'));
    },

    async commitStaging(staging, projectId, sha256) {
      if (!Number.isSafeInteger(projectId) || projectId < 0) {
        throw new HostError('BAD_REQUEST', `projectId must be a whole number, got ${projectId}`);
      }
      const projectDir = path.join(root, String(projectId));
      await mkdir(projectDir, { recursive: true });
      const target = path.join(projectDir, `${sha256}-${randomBytes(6).toString('hex')}`);
      await rename(assertInside(staging), target);
      return target;
    },

    async removeDir(dir) {
      await rm(assertInside(dir), { recursive: true, force: true });
    },
  };
}
