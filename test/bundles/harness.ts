/**
 * Shared set-up of the bundle intake tests: a temp root holding the data folder and the input zips, and checks
 * that a refused bundle left nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBundleIntake } from '../../host/bundles/index.js';
import { createBundleScanner } from '../../host/executors/introspect/bundle-scanner.js';
import type { BundleIntake } from '../../host/bundles/index.js';
import { compileConfig } from '../../host/config/index.js';
import type { HostConfig, HostOptions } from '../../host/config/index.js';
import { silentLogger } from '../../host/log/logger.js';

/** Fixtures stay in the source tree; compiled tests run from dist/test/bundles. */
export function fixturesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../fixtures/bundles'), path.resolve(here, '../../../test/fixtures/bundles')];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'thread-basic')));
  if (!found) throw new Error(`bundle fixtures not found (looked in ${candidates.join(', ')})`);
  return found;
}

export interface Harness {
  root: string;
  config: HostConfig;
  intake: BundleIntake;
  /** A path for a new input zip. */
  input(name: string): string;
  /** Asserts intake rejects with the code and a message matching, and that nothing (not even the blob) was left. */
  expectRefused(zip: string, code: string, message: RegExp): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createHarness(options: HostOptions = {}): Promise<Harness> {
  const root = await mkdtemp(path.join(tmpdir(), 'jc-bundles-'));
  await mkdir(path.join(root, 'inputs'));
  const config = compileConfig({
    dataDir: path.join(root, 'data'),
    introspectTimeoutMs: 8_000,
    maxBundleEntries: 50,
    maxBundleUnpackedBytes: 1024 * 1024,
    ...options,
  });
  const intake = createBundleIntake({ config, logger: silentLogger, scan: createBundleScanner({ config, logger: silentLogger }) });
  return {
    root,
    config,
    intake,
    input: (name) => path.join(root, 'inputs', name),
    async expectRefused(zip, code, message) {
      const before = await projectFolders(config.bundlesDir);
      await assert.rejects(intake.intake(zip, { projectId: 7 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });
      await assertNothingLeft(root, config.bundlesDir, before);
      const sha256 = createHash('sha256').update(await readFile(zip)).digest('hex');
      assert.equal(existsSync(path.join(config.bundlesDir, 'blobs', `${sha256}.zip`)), false, 'a refused zip kept its blob');
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

async function projectFolders(bundlesDir: string): Promise<string[]> {
  const projectDir = path.join(bundlesDir, '7');
  return existsSync(projectDir) ? (await readdir(projectDir)).sort() : [];
}

/** Only data/ and inputs/ at the root, only known folders in bundlesDir, an empty staging area. */
async function assertNothingLeft(root: string, bundlesDir: string, projectBefore: string[]): Promise<void> {
  assert.deepEqual((await readdir(root)).sort(), ['data', 'inputs']);
  assert.deepEqual(await readdir(path.dirname(bundlesDir)), ['bundles']);
  for (const name of await readdir(bundlesDir)) {
    assert.ok(['blobs', '.staging', '7'].includes(name), `unexpected ${name} in bundlesDir`);
  }
  const staging = path.join(bundlesDir, '.staging');
  if (existsSync(staging)) assert.deepEqual(await readdir(staging), [], 'staging folder left behind');
  for (const blob of await readdir(path.join(bundlesDir, 'blobs'))) {
    assert.match(blob, /^[0-9a-f]{64}\.zip$/, 'only finished blobs in blobs/');
  }
  assert.deepEqual(await projectFolders(bundlesDir), projectBefore, 'a refused bundle made a project folder');
}
