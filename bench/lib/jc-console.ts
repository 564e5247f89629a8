/**
 * Workload `console`: what the web console asks of a big host. A database of 10,000 jobs (10 projects) and 1,000,000
 * runs over the last 30 days, seeded once with multi-row INSERTs (the runs through the host's own run sink, so the
 * dashboard's rollups are written as a host writes them) and kept for the next run when its shape matches; then a
 * started host is asked every console list over HTTP, one request at a time, and each list's p50/p95 is reported;
 * then every console page the same way, as a browser signed in through the login form asks it (`page …` rows).
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { HostConfig } from '../../host/config/index.js';
import type { RunRecord, RunStatus, RunTrigger } from '../../host/domain/index.js';
import { silentLogger } from '../../host/log/logger.js';
import { openStoreContext, type StoreContext } from '../../host/store/context.js';
import { createRunSink } from '../../host/store/run-sink.js';
import { DEFAULT_MYSQL_URL, jcLabel, jobRow, startBenchHost } from './jobcenter.js';
import type { Sample } from './measure.js';

const PROJECTS = 10;
/** Runs per job: 1,000,000 runs are 10,000 jobs. */
const RUNS_PER_JOB = 100;
const DAYS = 30;
const BATCH = 1_000;
const REQUESTS = 60;
const WARMUP = 5;

/** The kept database: a data folder under the temp folder (SQLite), or a database of a fixed name (MariaDB). */
async function keptDatabase(db: string, runs: number): Promise<{ dataDir: string; dbUrl: string | undefined }> {
  const dataDir = path.join(os.tmpdir(), `jc-bench-console-${db}-${runs}`);
  await mkdir(dataDir, { recursive: true });
  if (db === 'sqlite') return { dataDir, dbUrl: undefined };
  const base = new URL(process.env.JOBCENTER_BENCH_MYSQL_URL ?? DEFAULT_MYSQL_URL);
  const conn = await mysql.createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) });
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`jcbench_console_${runs}\``);
  await conn.end();
  base.pathname = `/jcbench_console_${runs}`;
  return { dataDir, dbUrl: base.href };
}

const STATUSES: [RunStatus, number][] = [['SUCCEEDED', 0.9], ['FAILED', 0.05], ['TIMED_OUT', 0.02], ['KILLED', 0.01], ['SKIPPED', 0.02]];
const TRIGGERS: [RunTrigger, number][] = [['SCHEDULE', 0.9], ['MANUAL', 0.07], ['RETRY', 0.02], ['RECOVERY', 0.01]];

function pick<T>(table: [T, number][], x: number): T {
  let sum = 0;
  for (const [value, share] of table) if (x < (sum += share)) return value;
  return table[table.length - 1]![0];
}

/** Seeds an empty database, or says whether the one there has this bench's shape (the marker project). */
async function seed(ctx: StoreContext, RUNS: number): Promise<boolean> {
  const { models } = ctx;
  const JOBS = RUNS / RUNS_PER_JOB;
  const SHAPE = `console-bench-v1-${RUNS}`;
  if (await models.Project.findOne({ where: { name: SHAPE } })) return false;
  if ((await models.Job.count()) > 0) throw new Error('the kept console database holds something else: drop it (see docs/benchmarks.md)');
  const admin = await models.User.findOne({ where: { username: 'admin' } });
  const ownerId = Number(admin?.get('id') ?? 1);
  const projectIds: number[] = [];
  for (let p = 0; p < PROJECTS; p++) {
    const now = new Date();
    const row = await models.Project.create({ name: `console-${p}`, description: '', ownerId, trusted: true, createdAt: now, updatedAt: now });
    projectIds.push(Number(row.get('id')));
  }
  const jobs: { id: number; projectId: number }[] = [];
  for (let i = 0; i < JOBS; i += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, JOBS - i) }, (_, k) => {
      const n = i + k;
      const projectId = projectIds[n % PROJECTS]!;
      const job = jobRow(projectId, `job-${String(n).padStart(5, '0')}`, 'thread', 'noop', { type: 'CRON', cron: '0 * * * * *' }, 'STOPPED');
      return { ...job, createdAt: new Date(), updatedAt: new Date() };
    });
    const made = await models.Job.bulkCreate(rows);
    for (const row of made) jobs.push({ id: Number(row.get('id')), projectId: Number(row.get('projectId')) });
  }
  const sink = createRunSink(ctx);
  const now = Date.now();
  const span = DAYS * 86_400_000;
  const perJob = RUNS_PER_JOB;
  for (let i = 0; i < RUNS; i += BATCH) {
    const runs: RunRecord[] = [];
    for (let k = 0; k < BATCH && i + k < RUNS; k++) {
      const n = i + k;
      const job = jobs[n % JOBS]!;
      // Each job's runs spread evenly over the days, a distinct fire time each (UNIQUE(job, fire time)).
      const slot = Math.floor(n / JOBS);
      const scheduledAt = new Date(now - span + Math.floor((slot + (n % JOBS) / JOBS) * (span / perJob)));
      const status = pick(STATUSES, Math.random());
      const trigger = pick(TRIGGERS, Math.random());
      const startedAt = status === 'SKIPPED' ? null : new Date(scheduledAt.getTime() + Math.floor(Math.random() * 20));
      const endedAt = new Date((startedAt ?? scheduledAt).getTime() + Math.floor(Math.random() * 2_000));
      runs.push({
        runId: randomUUID(), jobId: job.id, projectId: job.projectId, bundleId: null, host: 'bench', trigger, status, scheduledAt, startedAt, endedAt,
        result: status === 'SUCCEEDED' ? 'ok' : null, error: status === 'FAILED' ? { name: 'Error', message: 'bench failure' } : null, attempt: trigger === 'RETRY' ? 2 : 1,
        cpuMs: null, peakMemoryMb: null, logFile: null, logOffset: null, logLength: null, notBefore: null, params: null,
      });
    }
    await sink.insertMany(runs);
  }
  const events = Array.from({ length: 20_000 }, (_, n) => ({
    entity: 'job', entityId: jobs[n % JOBS]!.id, jobId: jobs[n % JOBS]!.id, projectId: jobs[n % JOBS]!.projectId, userId: null,
    action: n % 2 ? 'started' : 'stopped', actor: 'admin', details: null, at: new Date(now - span + n * (span / 20_000)),
  }));
  for (let i = 0; i < events.length; i += BATCH) await models.Event.bulkCreate(events.slice(i, i + BATCH));
  await models.Project.create({ name: SHAPE, description: 'marks a seeded console bench database', ownerId, trusted: false, createdAt: new Date(), updatedAt: new Date() });
  return true;
}

interface Api {
  get<T = unknown>(p: string): Promise<{ status: number; body: T }>;
}

type Page<T> = { items: T[]; nextCursor: string };

async function login(url: string): Promise<Api> {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'bench-password' }) });
  const { token } = (await res.json()) as { token: string };
  return {
    async get<T>(p: string) {
      const r = await fetch(`${url}${p}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, body: (await r.json()) as T };
    },
  };
}

/**
 * A signed-in console visitor, as a browser is: GET /login sets the CSRF cookie (`jc_csrf`), the login form posts it
 * back as `_csrf`, and the answer sets the session cookie (`jc_session`) that every page is then asked with.
 */
async function consoleLogin(url: string): Promise<Api> {
  const cookies = new Map<string, string>();
  const keep = (res: Response): void => {
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
  };
  const cookie = (): string => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${url}/login`);
  await form.arrayBuffer();
  keep(form);
  const csrf = cookies.get('jc_csrf');
  if (!csrf) throw new Error('GET /login set no jc_csrf cookie');
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
    body: new URLSearchParams({ username: 'admin', password: 'bench-password', _csrf: csrf }).toString(),
  });
  await res.arrayBuffer();
  keep(res);
  if (res.status !== 302 || !cookies.has('jc_session')) throw new Error(`console sign-in failed: ${res.status}`);
  return {
    async get<T>(p: string) {
      const r = await fetch(`${url}${p}`, { redirect: 'manual', headers: { cookie: cookie() } });
      // A page is a page when it is HTML: a redirect (to /login) or an error page is not what is timed.
      const body = await r.text();
      const html = (r.headers.get('content-type') ?? '').startsWith('text/html');
      return { status: html ? r.status : 0, body: (html ? body.length : body.slice(0, 200)) as T };
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function time(api: Api, subject: string, p: string, everyMs = 0, requests = REQUESTS): Promise<Sample> {
  const ms: number[] = [];
  for (let i = 0; i < WARMUP + requests; i++) {
    if (everyMs > 0) await new Promise((resolve) => setTimeout(resolve, everyMs));
    const t0 = performance.now();
    const res = await api.get(p);
    const took = performance.now() - t0;
    if (res.status !== 200) return { subject, metrics: {}, note: `failed: ${p} answered ${res.status} ${JSON.stringify(res.body).slice(0, 200)}` };
    if (i >= WARMUP) ms.push(took);
  }
  ms.sort((a, b) => a - b);
  return { subject, metrics: { p50: percentile(ms, 50), p95: percentile(ms, 95), max: ms[ms.length - 1]! } };
}

export async function jobCenterConsole(db: string, runs: number): Promise<Sample[]> {
  const kept = await keptDatabase(db, runs);
  const t0 = performance.now();
  const config: HostConfig['db'] = kept.dbUrl ? { dialect: 'mysql', url: kept.dbUrl } : { dialect: 'sqlite', file: path.join(kept.dataDir, 'jobcenter.db') };
  const ctx = await openStoreContext(config, silentLogger);
  let seeded: boolean;
  try {
    seeded = await seed(ctx, runs);
  } finally {
    await ctx.sequelize.close();
  }
  const seedMs = performance.now() - t0;
  const bench = await startBenchHost(kept.dbUrl, kept.dataDir);
  try {
    const api = await login(bench.url);
    const projects = (await api.get<Page<{ id: number; name: string }>>('/api/v1/projects?limit=20')).body.items;
    const projectId = projects.find((p) => p.name === 'console-3')!.id;
    const someJob = (await api.get<Page<{ id: number }>>(`/api/v1/jobs?projectId=${projectId}&limit=1`)).body.items[0]!;
    const aRun = (await api.get<Page<{ runId: string }>>(`/api/v1/runs?jobId=${someJob.id}&limit=1`)).body.items[0]!;
    const middle = new Date(Date.now() - 15 * 86_400_000).toISOString();
    const dayFrom = new Date(Date.now() - 8 * 86_400_000).toISOString();
    const dayTo = new Date(Date.now() - 7 * 86_400_000).toISOString();
    const deepRuns = (await api.get<Page<unknown>>(`/api/v1/runs?to=${middle}&limit=50`)).body.nextCursor;
    let deepJobs = '';
    for (let page = 0; page < 10; page++) {
      deepJobs = (await api.get<Page<unknown>>(`/api/v1/jobs?limit=100${deepJobs ? `&cursor=${encodeURIComponent(deepJobs)}` : ''}`)).body.nextCursor;
    }
    const oldEvent = (await api.get<{ id: number }[]>('/api/v1/events?limit=1000')).body.at(-1)!.id;
    const cases: [string, string][] = [
      ['jobs, first page', '/api/v1/jobs?limit=50'],
      ['jobs, q=job-0123', '/api/v1/jobs?q=job-0123&limit=50'],
      ['jobs, projectId + state + kind', `/api/v1/jobs?projectId=${projectId}&state=STOPPED&kind=thread&limit=50`],
      ['jobs, a page 1,000 deep', `/api/v1/jobs?limit=50&cursor=${encodeURIComponent(deepJobs)}`],
      ['projects', '/api/v1/projects?limit=50'],
      ['runs, first page', '/api/v1/runs?limit=50'],
      ['runs, jobId', `/api/v1/runs?jobId=${someJob.id}&limit=50`],
      ['runs, projectId', `/api/v1/runs?projectId=${projectId}&limit=50`],
      ['runs, status=FAILED', '/api/v1/runs?status=FAILED&limit=50'],
      ['runs, status=FAILED,TIMED_OUT', '/api/v1/runs?status=FAILED,TIMED_OUT&limit=50'],
      ['runs, trigger=MANUAL', '/api/v1/runs?trigger=MANUAL&limit=50'],
      ['runs, one day (from/to)', `/api/v1/runs?from=${dayFrom}&to=${dayTo}&limit=50`],
      ['runs, a page 500,000 deep (cursor)', `/api/v1/runs?limit=50&cursor=${encodeURIComponent(deepRuns)}`],
      ['runs, one run by id', `/api/v1/runs/${aRun.runId}`],
      ['events, first page', '/api/v1/events?limit=50'],
      ['events, a page 1,000 deep (beforeId)', `/api/v1/events?limit=50&beforeId=${oldEvent}`],
      ['events, jobId', `/api/v1/events?jobId=${someJob.id}&limit=50`],
      ['dashboard', '/api/v1/dashboard'],
    ];
    const samples: Sample[] = [];
    const label = jcLabel(db);
    for (const [subject, p] of cases) samples.push(await time(api, `${label}: ${subject}`, p));
    // The console's pages, server-rendered from the same services, as a signed-in browser asks them.
    const browser = await consoleLogin(bench.url);
    const pages: [string, string][] = [
      ['dashboard', '/'],
      ['jobs', '/jobs'],
      ['jobs, q=job-0123', '/jobs?q=job-0123'],
      ['jobs, projectId', `/jobs?projectId=${projectId}`],
      ['jobs, a page 1,000 deep', `/jobs?cursor=${encodeURIComponent(deepJobs)}`],
      ['a job', `/jobs/${someJob.id}`],
      ["a job's edit form", `/jobs/${someJob.id}/edit`],
      ['runs', '/runs'],
      ['runs, status=FAILED', '/runs?status=FAILED'],
      ['runs, trigger=MANUAL', '/runs?trigger=MANUAL'],
      ['runs, jobId', `/runs?jobId=${someJob.id}`],
      ['runs, a page 500,000 deep (cursor)', `/runs?cursor=${encodeURIComponent(deepRuns)}`],
      ['a run', `/runs/${aRun.runId}`],
      ['projects', '/projects'],
      ['a project (bundles)', `/projects/${projectId}`],
      ['events', '/events'],
      ['users', '/users'],
      ['account', '/account'],
      ['hosts', '/hosts'],
    ];
    for (const [subject, p] of pages) samples.push(await time(browser, `${label}: page ${subject}`, p));
    // As the console polls it: once a second, so each request finds its 1-second cache gone (and the 15-second cache
    // of the day figures gone every fifteenth).
    samples.push(await time(api, `${label}: dashboard, polled once a second`, '/api/v1/dashboard', 1_000, 30));
    samples.push({ subject: `${label}: seed (0: the kept database was reused)`, metrics: { p50: seeded ? seedMs : 0, p95: seeded ? seedMs : 0, max: seeded ? seedMs : 0 } });
    return samples;
  } finally {
    await bench.close();
  }
}
