/**
 * A job project on disk: its folder, `jobcenter.json` (checked the way the host checks it) and `package.json`.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, resolve } from 'node:path';
import type { BundleManifest } from '@jobcenter/job-api';
import { CliError } from './args.js';

export const KINDS = ['thread', 'module', 'isolate', 'exec'] as const;
export type Kind = (typeof KINDS)[number];

export interface PackageJson {
  name?: string;
  version?: string;
  type?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface Project {
  readonly dir: string;
  readonly manifest: BundleManifest;
  readonly pkg: PackageJson | null;
}

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && (KINDS as readonly string[]).includes(value);
}

/** Reads and checks `<dir>/jobcenter.json`; every problem is a CliError naming the file and the field. */
export async function readProject(dirArg: string | undefined): Promise<Project> {
  const dir = resolve(dirArg ?? '.');
  const path = join(dir, 'jobcenter.json');
  if (!existsSync(path)) throw new CliError(`no jobcenter.json in ${dir} (create a project with: jobcenter-sdk init <dir>)`);
  const manifest = checkManifest(await readJson(path), path);
  const pkgPath = join(dir, 'package.json');
  const pkg = existsSync(pkgPath) ? ((await readJson(pkgPath)) as PackageJson) : null;
  return { dir, manifest, pkg };
}

function checkManifest(raw: unknown, path: string): BundleManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CliError(`${path} must hold a JSON object`);
  const m = raw as Record<string, unknown>;
  for (const field of ['name', 'version'] as const) {
    if (typeof m[field] !== 'string' || m[field] === '') throw new CliError(`${path}: "${field}" must be a non-empty string`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(m.name as string)) {
    throw new CliError(`${path}: "name" may hold letters, digits, ".", "_" and "-" only, got "${String(m.name)}"`);
  }
  if (!isKind(m.kind)) throw new CliError(`${path}: "kind" must be one of ${KINDS.join(', ')}, got ${JSON.stringify(m.kind)}`);
  if (m.kind !== 'exec' && (typeof m.main !== 'string' || m.main === '')) {
    throw new CliError(`${path}: "main" must name the main module for kind ${m.kind}`);
  }
  if (m.main !== undefined && (typeof m.main !== 'string' || !isInside(m.main))) {
    throw new CliError(`${path}: "main" must be a relative path inside the project, got ${JSON.stringify(m.main)}`);
  }
  return m as unknown as BundleManifest;
}

/** A relative path that stays inside its folder (no leading "/", no "..") and uses "/" separators. */
export function isInside(rel: string): boolean {
  if (isAbsolute(rel) || rel.includes('\\')) return false;
  const n = normalize(rel);
  return n !== '..' && !n.startsWith('../') && n !== '.';
}

export async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Where `pack` writes and `upload` looks by default: `<dir>/bundles/<name>-<version>.zip`. */
export function defaultZipPath(project: Project): string {
  return join(project.dir, 'bundles', `${project.manifest.name}-${project.manifest.version}.zip`);
}

/** The most recently changed file under the project's folders `tops` (e.g. src/, config/), or null when none. */
export async function newestUnder(dir: string, tops: string[]): Promise<{ rel: string; mtimeMs: number } | null> {
  let newest: { rel: string; mtimeMs: number } | null = null;
  for (const top of tops) {
    if (!existsSync(join(dir, top))) continue;
    for (const entry of await readdir(join(dir, top), { withFileTypes: true, recursive: true })) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath, entry.name);
      const { mtimeMs } = await stat(full);
      if (!newest || mtimeMs > newest.mtimeMs) newest = { rel: relative(dir, full), mtimeMs };
    }
  }
  return newest;
}
