/**
 * Reads and validates `jobcenter.json` at the root of an extracted bundle. Every message names the field.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { HostError, unprocessable } from '../errors/index.js';
import type { BundleManifest } from '../domain/index.js';
import { messageOf } from './extract.js';

export const MANIFEST_FILE = 'jobcenter.json';
const KINDS = ['thread', 'module', 'isolate', 'exec'] as const;
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;
/**
 * Bounds of the manifest: it is stored with the bundle row and shown in every GET …/bundles, so a zip of 49 KB with
 * a description that compresses well once made that list 50 MB.
 */
const MAX_MANIFEST_BYTES = 16 * 1024;
const MAX_VERSION = 100;
const MAX_MAIN = 1_000;
const MAX_DESCRIPTION = 2_000;

/** Parses the manifest in dir; rejects with UNPROCESSABLE naming the missing or wrong field. */
export async function readManifest(dir: string): Promise<BundleManifest> {
  const raw = await readManifestText(dir);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw unprocessable(`${MANIFEST_FILE} is not valid JSON: ${messageOf(err)}`);
  }
  const manifest = validateManifest(parsed);
  if (manifest.main !== undefined) await checkMain(dir, manifest.main);
  return manifest;
}

async function readManifestText(dir: string): Promise<string> {
  try {
    const file = path.join(dir, MANIFEST_FILE);
    if ((await stat(file)).size > MAX_MANIFEST_BYTES) throw unprocessable(`${MANIFEST_FILE} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    return await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof HostError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') {
      throw unprocessable(`bundle has no ${MANIFEST_FILE} at its root`);
    }
    throw unprocessable(`${MANIFEST_FILE} could not be read: ${messageOf(err)}`);
  }
}

/** Checks the shape of a parsed manifest (no file system access). */
export function validateManifest(value: unknown): BundleManifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw unprocessable(`${MANIFEST_FILE} must hold a JSON object`);
  }
  const m = value as Record<string, unknown>;
  if (typeof m.name !== 'string') throw field('name', 'must be a string');
  if (!NAME_PATTERN.test(m.name)) {
    throw field('name', 'must be 1-100 characters of letters, digits, ".", "_" or "-"', m.name);
  }
  if (typeof m.version !== 'string' || m.version.trim() === '' || m.version.length > MAX_VERSION) {
    throw field('version', `must be a non-empty string of at most ${MAX_VERSION} characters`);
  }
  const kind = m.kind;
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) {
    throw field('kind', `must be one of ${KINDS.join(', ')}`, kind);
  }
  if (m.main !== undefined && (typeof m.main !== 'string' || m.main === '' || m.main.length > MAX_MAIN || m.main.includes('\u0000'))) {
    throw field('main', `must be a non-empty string of at most ${MAX_MAIN} characters (a path inside the bundle)`);
  }
  if (m.main === undefined && kind !== 'exec') throw field('main', `is required for kind ${kind}`);
  if (m.description !== undefined && (typeof m.description !== 'string' || m.description.length > MAX_DESCRIPTION)) {
    throw field('description', `must be a string of at most ${MAX_DESCRIPTION.toLocaleString('en')} characters`);
  }
  return {
    name: m.name,
    version: m.version,
    kind: kind as BundleManifest['kind'],
    ...(typeof m.main === 'string' ? { main: m.main } : {}),
    ...(typeof m.description === 'string' ? { description: m.description } : {}),
  };
}

/** `main` must name a regular file that, resolved, stays inside the bundle folder. */
async function checkMain(dir: string, main: string): Promise<void> {
  const root = await realpath(dir);
  const target = path.resolve(root, main);
  if (!isInside(root, target)) throw field('main', 'points outside the bundle', main);
  let real: string;
  try {
    real = await realpath(target);
  } catch {
    throw field('main', 'names a file that is not in the bundle', main);
  }
  if (!isInside(root, real)) throw field('main', 'points outside the bundle', main);
  if (!(await stat(real)).isFile()) throw field('main', 'must name a file, not a folder', main);
}

/** Absolute path of the main module of an extracted bundle (after readManifest accepted it). */
export function mainPath(dir: string, manifest: BundleManifest): string | null {
  return manifest.main === undefined ? null : path.resolve(dir, manifest.main);
}

function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

function field(name: string, problem: string, value?: unknown): Error {
  const text = JSON.stringify(value);
  const shown = value === undefined ? '' : ` (got ${text.length > 100 ? `${text.slice(0, 100)}… (${text.length} characters)` : text})`;
  return unprocessable(`${MANIFEST_FILE} field "${name}" ${problem}${shown}`, { field: name });
}
