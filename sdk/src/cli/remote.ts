/**
 * `jobcenter-sdk login` and `jobcenter-sdk upload`: talk to a running host over its REST API.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import { CliError, flag, parse, str, type Options } from './args.js';
import { credentialsPath, normalizeHost, readCredentials, writeCredentials } from './credentials.js';
import { HostClient } from './http.js';
import { defaultZipPath, newestUnder, readProject, type Project } from './project.js';
import { promptPassword } from './prompt.js';

export const LOGIN_HELP = `Usage: jobcenter-sdk login --host URL [--username U] [--password P]

Logs in to the host at URL (e.g. http://localhost:8017), creates an API token (valid 90 days) and stores
{ host, token } in $XDG_CONFIG_HOME/jobcenter/credentials.json (default ~/.config/jobcenter/), mode 600.
The password comes from --password, else env JOBCENTER_PASSWORD, else a prompt. --username defaults to admin.`;

export const UPLOAD_HELP = `Usage: jobcenter-sdk upload [zip] [--project NAME] [--create [--trusted]] [--host URL] [--token T] [--dir D]

Uploads a bundle zip (default: the one \`pack\` wrote for the project in D) to the project NAME (default: the
name in D/jobcenter.json) and prints the new bundle version and its exports. With --create, a project that does
not exist yet is created; with --trusted too, it is created trusted (admins only): only a trusted project takes
thread, module and exec bundles, an untrusted one isolate bundles only. The host and token come from --host / --token (or env JOBCENTER_TOKEN), else from
\`jobcenter-sdk login\`.`;

const LOGIN_OPTIONS: Options = { host: { type: 'string' }, username: { type: 'string' }, password: { type: 'string' } };
const UPLOAD_OPTIONS: Options = {
  host: { type: 'string' },
  token: { type: 'string' },
  project: { type: 'string' },
  create: { type: 'boolean' },
  trusted: { type: 'boolean' },
  dir: { type: 'string' },
};
const TOKEN_TTL_DAYS = 90;

export async function loginCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const p = parse('login', argv, LOGIN_OPTIONS);
  if (p.values.help) return void out.write(`${LOGIN_HELP}\n`), 0;
  const rawHost = str(p, 'host');
  if (!rawHost) throw new CliError('login needs --host URL (e.g. --host http://localhost:8017)');
  const host = normalizeHost(rawHost);
  const username = str(p, 'username') ?? 'admin';
  const password = str(p, 'password') ?? (process.env.JOBCENTER_PASSWORD || undefined) ?? (await promptPassword(`password for ${username} at ${host}: `));
  const session = await new HostClient(host, null).json<{ token: string }>('POST', '/api/v1/auth/login', { username, password });
  // A session expires with the browser's; an API token is what a CLI should keep.
  const api = await new HostClient(host, session.token).json<{ token: string; expiresAt: string | null }>('POST', '/api/v1/tokens', {
    name: `jobcenter-sdk@${hostname()}`,
    ttlDays: TOKEN_TTL_DAYS,
  });
  const path = credentialsPath();
  await writeCredentials({ host, token: api.token, username }, path);
  out.write(`logged in to ${host} as ${username}; token stored in ${path}${api.expiresAt ? ` (expires ${api.expiresAt})` : ''}\n`);
  return 0;
}

interface ProjectRow {
  id: number;
  name: string;
}
interface BundleRow {
  id: number;
  version: number;
  sha256: string;
  manifest: { name: string; version: string; kind: string };
  exports: { name: string; type: string }[];
  warnings?: string[];
}

export async function uploadCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const p = parse('upload', argv, UPLOAD_OPTIONS);
  if (p.values.help) return void out.write(`${UPLOAD_HELP}\n`), 0;
  if (p.positionals.length > 1) throw new CliError('upload takes at most one zip file\n(see: jobcenter-sdk upload --help)');
  const { zipPath, projectName, project: local } = await target(p.positionals[0], str(p, 'project'), str(p, 'dir'));
  if (local && zipPath.startsWith(`${local.dir}${sep}`)) await warnIfStale(zipPath, local.dir, err);
  const client = await clientFor(str(p, 'host'), str(p, 'token'));
  if (flag(p, 'trusted') && !flag(p, 'create')) throw new CliError('--trusted applies to a project that --create creates');
  const project = await findProject(client, projectName, flag(p, 'create'), flag(p, 'trusted'), out);
  const bundle = await client.upload<BundleRow>(`/api/v1/projects/${project.id}/bundles`, await readFile(zipPath), basename(zipPath));
  out.write(`uploaded ${basename(zipPath)} to project ${project.name} (id ${project.id}): version ${bundle.version} (bundle id ${bundle.id}, ${bundle.manifest.kind})\n`);
  out.write(`  exports: ${bundle.exports.map((e) => `${e.name} (${e.type})`).join(', ') || '(none)'}\n`);
  for (const warning of bundle.warnings ?? []) out.write(`  warning: ${warning}\n`);
  return 0;
}

async function target(zipArg: string | undefined, projectArg: string | undefined, dir: string | undefined): Promise<{ zipPath: string; projectName: string; project: Project | null }> {
  const hasProject = existsSync(join(resolve(dir ?? '.'), 'jobcenter.json'));
  const project = hasProject ? await readProject(dir) : null;
  const zipPath = zipArg ? resolve(zipArg) : project ? defaultZipPath(project) : null;
  if (!zipPath) throw new CliError('upload needs a zip file (or run it in a project folder after jobcenter-sdk pack)');
  if (!existsSync(zipPath)) throw new CliError(`no bundle at ${zipPath}${zipArg ? '' : ' (run jobcenter-sdk pack first)'}`);
  if ((await stat(zipPath)).isDirectory()) {
    const isProject = existsSync(join(zipPath, 'jobcenter.json'));
    const shown = zipArg ?? zipPath;
    throw new CliError(`${shown} is a folder, not a bundle zip: ${isProject ? `to upload that project's bundle, pack it and pass --dir ${shown}` : 'pass the zip that jobcenter-sdk pack wrote (bundles/<name>-<version>.zip)'}`);
  }
  const projectName = projectArg ?? project?.manifest.name;
  if (!projectName) throw new CliError('upload needs --project NAME');
  return { zipPath, projectName, project };
}

/** A zip older than a file under src/ or config/ was packed before the last change: it would upload old code. */
async function warnIfStale(zipPath: string, dir: string, err: NodeJS.WritableStream): Promise<void> {
  const changed = await newestUnder(dir, ['src', 'config']);
  if (!changed || changed.mtimeMs <= (await stat(zipPath)).mtimeMs) return;
  err.write(`warning: ${relative(process.cwd(), zipPath) || zipPath} is older than ${changed.rel}: it does not hold your latest changes (run jobcenter-sdk pack first)\n`);
}

/** The host and token from --host / --token (or env JOBCENTER_TOKEN), else from `login`: upload and the operator commands. */
export async function clientFor(hostArg: string | undefined, tokenArg: string | undefined): Promise<HostClient> {
  const saved = await readCredentials();
  const host = hostArg ? normalizeHost(hostArg) : saved?.host;
  if (!host) throw new CliError('no host: pass --host URL or log in first (jobcenter-sdk login --host URL)');
  const token = tokenArg ?? (process.env.JOBCENTER_TOKEN || undefined) ?? (saved?.host === host ? saved.token : undefined);
  if (!token) throw new CliError(`not logged in to ${host}: run jobcenter-sdk login --host ${host} (or pass --token)`);
  return new HostClient(host, token);
}

/** The list matches names by part (`q`) and comes in pages: read them until the exact name turns up. */
async function projectNamed(client: HostClient, name: string): Promise<ProjectRow | undefined> {
  let cursor: string | null = null;
  do {
    const path = `/api/v1/projects?q=${encodeURIComponent(name)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page: { items: ProjectRow[]; nextCursor: string | null } = await client.json('GET', path);
    const found = page.items.find((p) => p.name === name);
    if (found) return found;
    cursor = page.nextCursor;
  } while (cursor);
  return undefined;
}

async function findProject(client: HostClient, name: string, create: boolean, trusted: boolean, out: NodeJS.WritableStream): Promise<ProjectRow> {
  const found = await projectNamed(client, name);
  if (found) return found;
  if (!create) throw new CliError(`no project named "${name}" on ${client.host} (add --create to create it)`);
  const body = { name, description: 'created by jobcenter-sdk upload', ...(trusted ? { trusted } : {}) };
  const created = await client.json<ProjectRow>('POST', '/api/v1/projects', body);
  out.write(`created ${trusted ? 'trusted ' : ''}project ${created.name} (id ${created.id})\n`);
  return created;
}
