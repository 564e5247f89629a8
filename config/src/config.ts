/**
 * A job's config: `config/<file>`, then `config/<stem>-<profile>.properties` over it, then the job's own overrides.
 * The host imports these helpers too, so a job sees the same config locally and on the host.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, parse } from 'node:path';
import { parseProperties } from './properties.js';

export type ConfigErrorCode = 'CONFIG_BAD_NAME' | 'CONFIG_FILE_NOT_FOUND' | 'CONFIG_PROFILE_NOT_FOUND';

/** Why a job's config could not be loaded; `code` says which case, `path` the file concerned. */
export class ConfigError extends Error {
  constructor(
    readonly code: ConfigErrorCode,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** The bundle (or project) folder; config files are read from `<dir>/config/`. */
  readonly dir: string;
  /** A file name inside `<dir>/config/`, e.g. `app.properties`; null or absent: no files, only overrides. */
  readonly file?: string | null;
  /** Overlays `<stem>-<profile>.properties` (e.g. `app-dev.properties`); ignored when there is no file. */
  readonly profile?: string | null;
  /** The job's own `config` map; wins over both files. */
  readonly overrides?: Readonly<Record<string, string>> | null;
}

type ConfigMap = Readonly<Record<string, string>> | null | undefined;

/**
 * Merges the three layers of a job's config; later layers win key by key. Pure: no files, no mutation.
 *
 * @example
 * ```ts
 * import { mergeConfig } from '@jobcenter/sdk';
 * mergeConfig({ url: 'db', pool: '4' }, { pool: '8' }, { url: 'test-db' });
 * // → { url: 'test-db', pool: '8' }
 * ```
 */
export function mergeConfig(base?: ConfigMap, profile?: ConfigMap, overrides?: ConfigMap): Record<string, string> {
  return { ...(base ?? {}), ...(profile ?? {}), ...(overrides ?? {}) };
}

/**
 * Loads a job's config the way the host does (the original's `PropertiesUtil`): reads `<dir>/config/<file>`,
 * overlays `<dir>/config/<file-stem>-<profile>.properties`, then `overrides`. Rejects with a {@link ConfigError}
 * when the base file or the profile file is missing (naming the path), or when a name would leave `<dir>/config`.
 *
 * @example
 * ```ts
 * import { loadConfig, runLocal } from '@jobcenter/sdk';
 * import { hello } from './index.js';
 * const config = await loadConfig({ dir: '.', file: 'hello.properties', profile: 'dev', overrides: { greeting: 'Hi' } });
 * await runLocal(hello, { config });
 * ```
 */
export async function loadConfig(opts: LoadConfigOptions): Promise<Record<string, string>> {
  if (opts.file === null || opts.file === undefined) return mergeConfig(null, null, opts.overrides);
  assertSafeName(opts.file, 'config file name');
  const configDir = join(opts.dir, 'config');
  const basePath = join(configDir, opts.file);
  const base = await readProperties(basePath, () => new ConfigError(
    'CONFIG_FILE_NOT_FOUND',
    `config file not found: ${basePath}`,
    basePath,
  ));
  if (opts.profile === null || opts.profile === undefined || opts.profile === '') {
    return mergeConfig(base, null, opts.overrides);
  }
  const profileName = profileFileName(opts.file, opts.profile);
  const profilePath = join(configDir, profileName);
  const profile = await readProperties(profilePath, () => new ConfigError(
    'CONFIG_PROFILE_NOT_FOUND',
    `config file for profile "${opts.profile}" not found: ${profilePath}`,
    profilePath,
  ));
  return mergeConfig(base, profile, opts.overrides);
}

/** The config file of a `module` bundle's context: `config/application.properties`. */
export const MODULE_CONFIG_FILE = 'application.properties';

/**
 * A module context's config, the same for `jobcenter-sdk run` and on the host: `config/application.properties`,
 * overlaid with `config/application-<profile>.properties` when that file exists (a profile may be meant for the
 * job's own config file only); `{}` without the base file. The profile is the job's (`run --profile`, the job's
 * `profile` field), else the one `jobcenter.json` names. Each profile gets its own context on the host.
 *
 * @example
 * ```ts
 * import { loadModuleConfig, startModuleLocal } from '@jobcenter/sdk';
 * import app from './dist/src/index.js';
 * const mod = await startModuleLocal(app, { config: await loadModuleConfig('.', 'dev') });
 * ```
 */
export async function loadModuleConfig(dir: string, profile?: string | null): Promise<Record<string, string>> {
  const configDir = join(dir, 'config');
  const base = await readIfPresent(join(configDir, MODULE_CONFIG_FILE));
  if (base === null) return {};
  const chosen = profile || (await manifestProfile(dir));
  const overlay = chosen ? await readIfPresent(join(configDir, profileFileName(MODULE_CONFIG_FILE, chosen))) : null;
  return mergeConfig(base, overlay);
}

/** The "profile" jobcenter.json names, or null (no manifest, no profile, or one that is not a string). */
async function manifestProfile(dir: string): Promise<string | null> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, 'jobcenter.json'), 'utf8')) as { profile?: unknown };
    return typeof manifest.profile === 'string' && manifest.profile !== '' ? manifest.profile : null;
  } catch {
    return null;
  }
}

/**
 * The file a profile overlays: `<stem>-<profile>.properties`, e.g. `app.properties` + `dev` → `app-dev.properties`.
 *
 * @example
 * ```ts
 * profileFileName('hello.properties', 'dev'); // → 'hello-dev.properties'
 * ```
 */
export function profileFileName(file: string, profile: string): string {
  assertSafeName(file, 'config file name');
  const name = `${parse(file).name}-${profile}.properties`;
  assertSafeName(name, `profile "${profile}"`);
  return name;
}

/** A name is one plain file name: no separators, no `.`/`..`, not absolute, no NUL. */
function assertSafeName(name: string, what: string): void {
  const bad =
    typeof name !== 'string' ||
    name === '' ||
    name === '.' ||
    name === '..' ||
    /[/\\\0]/.test(name) ||
    isAbsolute(name) ||
    /^[A-Za-z]:/.test(name);
  if (bad) {
    throw new ConfigError(
      'CONFIG_BAD_NAME',
      `${what} "${String(name)}" must be a plain file name inside the bundle's config/ folder (no "..", no "/" or "\\", not absolute)`,
    );
  }
}

async function readIfPresent(path: string): Promise<Record<string, string> | null> {
  try {
    return await readProperties(path, () => new ConfigError('CONFIG_FILE_NOT_FOUND', `config file not found: ${path}`, path));
  } catch (err) {
    if (err instanceof ConfigError) return null;
    throw err;
  }
}

async function readProperties(path: string, notFound: () => ConfigError): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') throw notFound();
    throw err;
  }
  return parseProperties(text);
}
