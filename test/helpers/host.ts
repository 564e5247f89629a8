/**
 * Starts real hosts for end-to-end tests: in-process through createHost, or as a child process through the CLI
 * (for kill -9). Each gets a free port and a fresh data folder, and talks HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostConfig, HostOptions } from '../../host/config/index.js';
import { createHost, type Host } from '../../host/main.js';
import type { MadeDatabase, TestDatabase } from './db.js';
import { threadBundle } from './zip.js';

export const REPO = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', ...(import.meta.url.includes('/dist/') ? ['..'] : []));
export const SAMPLES = path.join(REPO, 'dist', 'samples');
export const ADMIN_PASSWORD = 'test-admin-password';

export function dbUrl(db: HostConfig['db']): string {
  return db.dialect === 'sqlite' ? `sqlite:${db.file}` : db.url;
}

export interface TestHost {
  host: Host;
  url: string;
  api: Api;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startHost(opts: { db?: HostConfig['db']; dataDir?: string; options?: HostOptions } = {}): Promise<TestHost> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'jc-e2e-')));
  const host = createHost({
    port: 0,
    bind: '127.0.0.1',
    dataDir,
    dbUrl: opts.db ? dbUrl(opts.db) : undefined,
    adminPassword: ADMIN_PASSWORD,
    killGraceMs: 500,
    shutdownGraceMs: 1_000,
    samplesDir: SAMPLES,
    ...opts.options,
  });
  const { url } = await host.start();
  const api = await Api.login(url, 'admin', ADMIN_PASSWORD);
  return {
    host,
    url,
    api,
    dataDir,
    async stop() {
      await host.stop();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * For a describe() per database: a host on a database of its own, started before the suite's tests and stopped
 * (its database dropped) after them; call the returned function inside a test for the running host.
 */
export function hostPerSuite(database: TestDatabase, hooks: { before(fn: () => Promise<void>): void; after(fn: () => Promise<void>): void }): () => TestHost {
  let made: MadeDatabase | undefined;
  let th: TestHost | undefined;
  hooks.before(async () => {
    made = await database.make();
    th = await startHost({ db: made.db });
  });
  hooks.after(async () => {
    await th?.stop();
    await made?.drop();
  });
  return () => th!;
}

/** A host as its own process (`node bin/jobcenter.js start`), so a test can kill -9 it; `args` are more flags. */
export function spawnHost(args: { dataDir: string; port: number; db?: HostConfig['db']; args?: string[] }): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, JOBCENTER_ADMIN_PASSWORD: ADMIN_PASSWORD, JOBCENTER_LOG_LEVEL: 'warn' };
  const argv = ['--no-node-snapshot', path.join(REPO, 'bin', 'jobcenter.js'), 'start', '--no-samples', '--bind', '127.0.0.1', '--port', String(args.port), '--data-dir', args.dataDir];
  if (args.db) argv.push('--db', dbUrl(args.db));
  if (args.args) argv.push(...args.args);
  return spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface SpawnedProject {
  child: ChildProcess;
  url: string;
  api: Api;
  projectId: number;
  /** Creates a thread job of the project; resolves with its id. */
  job(body: Record<string, unknown>): Promise<number>;
}

/** A CLI host on a fresh port, healthy, with a project whose thread bundle's main module is `code`. */
export async function spawnWithProject(args: { dataDir: string; db?: HostConfig['db']; project: string; code: string; args?: string[] }): Promise<SpawnedProject> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnHost({ dataDir: args.dataDir, port, db: args.db, args: args.args });
  try {
    await waitForHealthy(url);
    const api = await Api.login(url, 'admin', ADMIN_PASSWORD);
    const projectId = await created(api.post('/api/v1/projects', { name: args.project }));
    await created(api.upload(projectId, await threadBundle(args.code)));
    const job = (body: Record<string, unknown>): Promise<number> => created(api.post('/api/v1/jobs', { projectId, kind: 'thread', ...body }));
    return { child, url, api, projectId, job };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

async function created(reply: Promise<Reply<{ id: number }>>): Promise<number> {
  const res = await reply;
  if (res.status !== 201) throw new Error(`expected 201, got ${res.status}: ${res.text}`);
  return res.body.id;
}

/** A port nothing listens on just now (the kernel's pick, released again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Resolves with how a child process ended (at once when it already has). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export async function waitForHealthy(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`host at ${url} not healthy after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() returns a value that is not undefined, or fails after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

export interface Reply<T = any> {
  status: number;
  body: T;
  text: string;
}

export class Api {
  /**
   * `role` is the logged-in user's. An admin's POST /api/v1/projects makes a trusted project unless the body says
   * `trusted` itself: most suites upload thread, module or exec bundles, which only trusted projects may run
   * (test/e2e/trust.test.ts tests trust itself, with explicit bodies).
   */
  constructor(readonly url: string, readonly token: string | null, readonly role: string | null = null) {}

  static async login(url: string, username: string, password: string): Promise<Api> {
    const res = await new Api(url, null).post('/api/v1/auth/login', { username, password });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
    return new Api(url, res.body.token, res.body.user?.role ?? null);
  }

  get<T = any>(p: string): Promise<Reply<T>> {
    return this.request('GET', p);
  }
  post<T = any>(p: string, body?: unknown): Promise<Reply<T>> {
    if (p === '/api/v1/projects' && this.role === 'admin' && isPlainObject(body) && !('trusted' in body)) {
      return this.request('POST', p, { ...body, trusted: true });
    }
    return this.request('POST', p, body);
  }
  patch<T = any>(p: string, body?: unknown): Promise<Reply<T>> {
    return this.request('PATCH', p, body);
  }
  delete<T = any>(p: string): Promise<Reply<T>> {
    return this.request('DELETE', p);
  }

  async upload<T = any>(projectId: number, zip: Buffer | Uint8Array, name = 'bundle.zip'): Promise<Reply<T>> {
    const form = new FormData();
    form.append('file', new Blob([zip]), name);
    return this.send('POST', `/api/v1/projects/${projectId}/bundles`, form, {});
  }

  async request<T>(method: string, p: string, body?: unknown): Promise<Reply<T>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.send(method, p, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), headers);
  }

  private async send<T>(method: string, p: string, body: string | FormData | undefined, headers: Record<string, string>): Promise<Reply<T>> {
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await fetch(`${this.url}${p}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, text };
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
