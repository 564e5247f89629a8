/**
 * Where `login` keeps the host and token: `$XDG_CONFIG_HOME/jobcenter/credentials.json` (or
 * `~/.config/jobcenter/credentials.json`), readable by its owner only.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './args.js';

export interface Credentials {
  readonly host: string;
  readonly token: string;
  readonly username?: string;
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'jobcenter', 'credentials.json');
}

export async function readCredentials(path = credentialsPath()): Promise<Credentials | null> {
  if (!existsSync(path)) return null;
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<Credentials>;
    return typeof value.host === 'string' && typeof value.token === 'string' ? (value as Credentials) : null;
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message} (log in again: jobcenter-sdk login --host URL)`);
  }
}

export async function writeCredentials(creds: Credentials, path = credentialsPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // The mode on create is filtered by the umask; chmod afterwards makes it 600 whatever the umask.
  await writeFile(path, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** A host URL without a trailing slash; `localhost:8017` becomes `http://localhost:8017`. */
export function normalizeHost(raw: string): string {
  const withScheme = /^https?:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`--host must be a URL like http://localhost:8017, got "${raw}"`);
  }
  return url.href.replace(/\/+$/, '');
}
