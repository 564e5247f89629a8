/**
 * What the operator commands (jobs, trigger, runs, logs, kill) share: the host connection `upload` uses, lists
 * read to their end, jobs and projects named by id or by name, and errors that say what to do.
 */
import { CliError, str, type Options, type Parsed } from './args.js';
import { HostClient, HostError } from './http.js';
import { clientFor } from './remote.js';

/** The flags every operator command takes: where the host is, who you are there, and JSON output. */
export const CONNECTION_OPTIONS: Options = { host: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } };

export const CONNECTION_HELP = `The host and token come from --host / --token (or env JOBCENTER_TOKEN), else from \`jobcenter-sdk login\`.
--json prints JSON on stdout instead of a table, for scripts.`;

export interface ProjectRow {
  id: number;
  name: string;
}

export interface JobRow {
  id: number;
  projectId: number;
  name: string;
  kind: string;
  state: string;
  schedule: { type: string; everyMs?: number; cron?: string; timezone?: string };
  nextFireAt?: string | null;
  runCounts?: unknown;
  lastRun?: unknown;
}

/** The fields of a run the commands show (`--json` prints all the host gives). */
export interface RunRow {
  runId: string;
  jobId: number;
  trigger: string;
  status: string;
  scheduledAt: string;
  startedAt: string | null;
  durationMs: number | null;
  result: string | null;
  error: { message?: string } | null;
}

export const FINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'KILLED', 'SKIPPED', 'INTERRUPTED'];

/** A client for the host, with 401 and 403 answers turned into what to do about them. */
export async function connect(p: Parsed): Promise<Operator> {
  return new Operator(await clientFor(str(p, 'host'), str(p, 'token')));
}

export class Operator {
  constructor(readonly client: HostClient) {}

  /** `notFound` is what a 404 means here and how to find the right id. */
  async json<T>(method: string, path: string, body?: unknown, notFound?: string): Promise<T> {
    return this.explained(() => this.client.json<T>(method, path, body), notFound);
  }

  async stream(path: string, onText: (text: string) => void, notFound?: string): Promise<void> {
    return this.explained(() => this.client.stream(path, onText), notFound);
  }

  /**
   * Every item of a list. Hosts answer a list as an array, or page it as `{ items, nextCursor }`: the pages are
   * followed to the end.
   */
  async all<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    for (let cursor: string | null = null; ; ) {
      const url: string = cursor === null ? path : `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`;
      const page = await this.json<T[] | { items: T[]; nextCursor?: string | null }>('GET', url);
      if (Array.isArray(page)) return page;
      items.push(...page.items);
      if (!page.nextCursor || seen.has(page.nextCursor)) return items;
      seen.add(page.nextCursor);
      cursor = page.nextCursor;
    }
  }

  /** A project by id or by name. */
  async project(ref: string): Promise<ProjectRow> {
    const projects = await this.all<ProjectRow>('/api/v1/projects');
    const found = /^\d+$/.test(ref) ? projects.find((p) => p.id === Number(ref)) : projects.find((p) => p.name === ref);
    if (found) return found;
    throw new CliError(`no project ${/^\d+$/.test(ref) ? `with id ${ref}` : `named "${ref}"`} that you can see on ${this.client.host}`);
  }

  /**
   * A job by id, or by name (within `projectId` when given). A name that several projects use is refused with
   * the candidates, so a trigger or kill never hits the wrong one.
   */
  async job(ref: string, projectId?: number): Promise<JobRow> {
    if (/^\d+$/.test(ref)) {
      const job = await this.json<JobRow>('GET', `/api/v1/jobs/${ref}`, undefined, `no job with id ${ref} (list them: jobcenter-sdk jobs)`);
      if (projectId !== undefined && job.projectId !== projectId) throw new CliError(`job ${ref} is in project ${job.projectId}, not ${projectId}`);
      return job;
    }
    const scope = projectId === undefined ? '' : `&projectId=${projectId}`;
    const matches = (await this.all<JobRow>(`/api/v1/jobs?q=${encodeURIComponent(ref)}${scope}`)).filter((j) => j.name === ref);
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) throw new CliError(`no job named "${ref}"${projectId === undefined ? '' : ` in project ${projectId}`} (list them: jobcenter-sdk jobs --q ${JSON.stringify(ref)})`);
    const names = await this.projectNames();
    const candidates = matches.map((j) => `  ${j.id}  in project ${names.get(j.projectId) ?? '?'} (id ${j.projectId})`).join('\n');
    throw new CliError(`${matches.length} jobs are named "${ref}"; give the job id, or --project:\n${candidates}`);
  }

  async projectNames(): Promise<Map<number, string>> {
    return new Map((await this.all<ProjectRow>('/api/v1/projects')).map((p) => [p.id, p.name]));
  }

  private async explained<T>(call: () => Promise<T>, notFound: string | undefined): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const hint = err instanceof HostError ? this.hint(err.status, notFound) : undefined;
      throw hint ? new CliError(`${(err as Error).message}\n${hint}`) : err;
    }
  }

  private hint(status: number, notFound: string | undefined): string | undefined {
    const host = this.client.host;
    if (status === 401) return `the host did not accept the token (expired, revoked, or for another host): log in again with jobcenter-sdk login --host ${host}, or pass --token`;
    if (status === 403) return 'your user may not do this: a viewer only reads, a developer acts on the projects they own; ask an admin';
    if (status === 404) return notFound;
    return undefined;
  }
}

/** `--project ID|NAME` as a project id. */
export async function projectOption(op: Operator, p: Parsed): Promise<number | undefined> {
  const ref = str(p, 'project');
  return ref === undefined ? undefined : (await op.project(ref)).id;
}

export function writeJson(out: NodeJS.WritableStream, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}
