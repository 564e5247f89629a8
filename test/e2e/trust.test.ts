/**
 * Project trust over HTTP (issue 22, item 5): thread, module and exec code runs as the host's user, so only a project
 * an admin marked trusted may run it; other projects run isolate jobs only. The bootstrap admin password does not
 * stay readable in the running host's environment.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import sqlite3 from 'sqlite3';
import type { HostConfig } from '../../host/config/index.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { ADMIN_PASSWORD, Api, eventually, exited, freePort, spawnHost, startHost, waitForHealthy, type TestHost } from '../helpers/host.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { threadBundle, zip } from '../helpers/zip.js';

const ISOLATE_MAIN = `"use strict";\nexports.hello = { execute() { return 'hello from an isolate'; } };\n`;

function isolateBundle(): Promise<Buffer> {
  return zip({ 'jobcenter.json': JSON.stringify({ name: 'sandboxed', version: '1.0.0', kind: 'isolate', main: 'job.js' }), 'job.js': ISOLATE_MAIN });
}

function bundleOfKind(kind: 'module' | 'exec'): Promise<Buffer> {
  const main = kind === 'module' ? { main: 'index.js' } : {};
  return zip({
    'jobcenter.json': JSON.stringify({ name: `a-${kind}`, version: '1.0.0', kind, ...main }),
    'package.json': JSON.stringify({ type: 'module' }),
    'index.js': 'export const beans = {};\n',
    'run.sh': 'echo hi\n',
  });
}

/** Runs one statement on the test database, outside any host. */
async function rawSql(db: HostConfig['db'], sql: string): Promise<void> {
  if (db.dialect === 'mysql') {
    const connection = await mysql.createConnection(db.url);
    try {
      await connection.query(sql);
    } finally {
      await connection.end();
    }
    return;
  }
  const file = new sqlite3.Database(db.file);
  try {
    await new Promise<void>((resolve, reject) => file.run(sql, (err) => (err ? reject(err) : resolve())));
  } finally {
    await new Promise<void>((resolve) => file.close(() => resolve()));
  }
}

for (const database of testDatabases()) {
  describe(`project trust on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    let th: TestHost;
    let dev: Api;
    let projectId: number;
    let marker: string;

    before(async () => {
      made = await database.make();
      th = await startHost({ db: made.db });
      assert.equal((await th.api.post('/api/v1/users', { username: 'dev', password: 'dev-password', role: 'developer' })).status, 201);
      dev = await Api.login(th.url, 'dev', 'dev-password');
      const created = await dev.post('/api/v1/projects', { name: 'devs' });
      assert.equal(created.status, 201, created.text);
      projectId = created.body.id;
      marker = path.join(th.dataDir, 'loaded-by-introspection');
    });

    after(async () => {
      await th?.stop();
      await made?.drop();
    });

    test('a new project is untrusted, and it refuses thread, module and exec bundles with 403 before loading them', async () => {
      const project = (await dev.get('/api/v1/projects')).body.items.find((p: { id: number }) => p.id === projectId);
      assert.equal(project.trusted, false);
      // Top-level code of the main module: introspection would run it as the host's user.
      const thread = await threadBundle(`import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport const ok = { execute() { return 'ok'; } };\n`);
      const refused = await dev.upload(projectId, thread);
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.error.code, 'FORBIDDEN');
      assert.match(refused.body.error.message, /project devs is not trusted, so it may run isolate jobs only/);
      assert.match(refused.body.error.message, /a bundle of kind "thread" would run as the host's user/);
      assert.match(refused.body.error.message, /Ask an admin to mark the project trusted \(PATCH \/api\/v1\/projects\/\d+ \{"trusted": true\}\), or pack the bundle as isolate/);
      assert.equal(existsSync(marker), false, 'the refused bundle was not loaded');
      for (const kind of ['module', 'exec'] as const) {
        const res = await dev.upload(projectId, await bundleOfKind(kind));
        assert.equal(res.status, 403, `${kind}: ${res.text}`);
        assert.match(res.body.error.message, new RegExp(`a bundle of kind "${kind}" would run as the host's user`));
      }
      assert.deepEqual((await dev.get(`/api/v1/projects/${projectId}/bundles`)).body, []);
    });

    test('an untrusted project runs isolate jobs, and refuses jobs of the other kinds with 403', async () => {
      assert.equal((await dev.upload(projectId, await isolateBundle())).status, 201);
      const job = await dev.post('/api/v1/jobs', { projectId, name: 'iso', kind: 'isolate', entry: 'hello', schedule: { type: 'MANUAL' } });
      assert.equal(job.status, 201, job.text);
      const run = await dev.post(`/api/v1/jobs/${job.body.id}/trigger`);
      assert.equal((await finishedRun(dev, run.body.runId)).status, 'SUCCEEDED');
      for (const [kind, entry] of [['exec', ['sh', '-c', 'id']], ['thread', 'hello'], ['module', 'hello']] as const) {
        const res = await dev.post('/api/v1/jobs', { projectId, name: `no-${kind}`, kind, entry, schedule: { type: 'MANUAL' } });
        assert.equal(res.status, 403, `${kind}: ${res.text}`);
        assert.match(res.body.error.message, new RegExp(`not trusted.*a job of kind "${kind}" would run as the host's user`));
      }
    });

    test('only an admin marks a project trusted (403 for a developer), and the change is recorded as an event', async () => {
      const own = await dev.post('/api/v1/projects', { name: 'self-trusted', trusted: true });
      assert.equal(own.status, 403, own.text);
      assert.match(own.body.error.message, /only an admin can mark a project trusted/);
      const patched = await dev.patch(`/api/v1/projects/${projectId}`, { trusted: true });
      assert.equal(patched.status, 403, patched.text);
      assert.match(patched.body.error.message, /only an admin can mark a project trusted/);
      const bad = await th.api.patch(`/api/v1/projects/${projectId}`, { trusted: 'yes' });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.body.error.details.field, 'trusted');
      const trusted = await th.api.patch(`/api/v1/projects/${projectId}`, { trusted: true });
      assert.equal(trusted.status, 200, trusted.text);
      assert.equal(trusted.body.trusted, true);
      assert.equal((await dev.get('/api/v1/projects')).body.items.find((p: { id: number }) => p.id === projectId).trusted, true);
      const events = (await th.api.get(`/api/v1/events?projectId=${projectId}`)).body as { action: string; actor: string; details: unknown; jobId: number }[];
      const trust = events.filter((e) => e.action === 'trust');
      assert.deepEqual(trust.map((e) => ({ actor: e.actor, details: e.details, jobId: e.jobId })), [{ actor: 'admin', details: { trusted: { before: false, after: true } }, jobId: 0 }]);
      const adminMade = await th.api.request('POST', '/api/v1/projects', { name: 'admin-made' });
      assert.equal((adminMade.body as { trusted: boolean }).trusted, false, 'trusted defaults to false, for admins too');
    });

    test('a trusted project runs thread code; once trust is taken back its fires fail and it cannot be started or triggered', async () => {
      assert.equal((await dev.upload(projectId, await threadBundle("export const ok = { execute() { return 'ran as the host'; } };"))).status, 201);
      const job = await dev.post('/api/v1/jobs', { projectId, name: 'every-second', kind: 'thread', entry: 'ok', schedule: { type: 'INTERVAL', everyMs: 1000 }, start: true });
      assert.equal(job.status, 201, job.text);
      await eventually('a succeeded run', async () => ((await listRuns(dev, `jobId=${job.body.id}&status=SUCCEEDED`)).length > 0 ? true : undefined));
      const untrusted = await th.api.patch(`/api/v1/projects/${projectId}`, { trusted: false });
      assert.equal(untrusted.status, 200, untrusted.text);
      // Runs resolve what they run up to fireLeadMs (500 ms) before their fire time: later ones see the revoke.
      const revokedAt = Date.now() + 1000;
      const failed = await eventually('a run that fired after the revoke and failed', async () => {
        const runs = await listRuns(dev, `jobId=${job.body.id}&limit=1000`);
        return runs.find((r) => r.status === 'FAILED' && new Date(r.scheduledAt).getTime() > revokedAt);
      });
      assert.match(failed.error!.message, /project devs is not trusted, so it may run isolate jobs only: this job of kind "thread" would run as the host's user/);
      const later = (await listRuns(dev, `jobId=${job.body.id}&limit=1000`)).filter((r) => new Date(r.scheduledAt).getTime() > revokedAt);
      assert.deepEqual(later.filter((r) => r.status === 'SUCCEEDED').map((r) => r.runId), [], 'no run of the untrusted project ran its code');
      assert.equal((await dev.post(`/api/v1/jobs/${job.body.id}/trigger`)).status, 403);
      assert.equal((await dev.post(`/api/v1/jobs/${job.body.id}/stop`)).status, 200);
      const start = await dev.post(`/api/v1/jobs/${job.body.id}/start`);
      assert.equal(start.status, 403, start.text);
      assert.match(start.body.error.message, /not trusted/);
      const events = (await th.api.get(`/api/v1/events?projectId=${projectId}`)).body as { action: string; details: unknown }[];
      assert.deepEqual(events.filter((e) => e.action === 'trust').map((e) => e.details), [
        { trusted: { before: true, after: false } },
        { trusted: { before: false, after: true } },
      ]);
    });

    test('an upgrade trusts the projects that already hold bundles or jobs of other kinds than isolate, and no others', async () => {
      const names = { thread: 'up-thread', exec: 'up-exec', isolate: 'up-isolate', empty: 'up-empty' };
      const ids: Record<string, number> = {};
      for (const [key, name] of Object.entries(names)) ids[key] = (await th.api.post('/api/v1/projects', { name, trusted: key === 'thread' || key === 'exec' })).body.id;
      assert.equal((await th.api.upload(ids.thread!, await threadBundle("export const ok = { execute() { return 'ok'; } };"))).status, 201);
      assert.equal((await th.api.post('/api/v1/jobs', { projectId: ids.exec, name: 'sh', kind: 'exec', entry: ['true'], schedule: { type: 'MANUAL' } })).status, 201);
      assert.equal((await th.api.upload(ids.isolate!, await isolateBundle())).status, 201);
      await th.stop();
      // The database as the previous version left it: no trusted column, 0006 not applied.
      await rawSql(made.db, 'ALTER TABLE projects DROP COLUMN trusted');
      await rawSql(made.db, "DELETE FROM SequelizeMeta WHERE name = '0006-project-trust'");
      th = await startHost({ db: made.db });
      const listed = new Map(((await th.api.get('/api/v1/projects')).body.items as { name: string; trusted: boolean }[]).map((p) => [p.name, p.trusted]));
      assert.deepEqual(
        Object.fromEntries(Object.entries(names).map(([key, name]) => [key, listed.get(name)])),
        { thread: true, exec: true, isolate: false, empty: false },
      );
      // devs held a thread bundle and jobs: trusted again by the upgrade, though an admin had taken it back.
      assert.equal(listed.get('devs'), true);
    });
  });
}

describe('the bootstrap admin password in a CLI host', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-trust-env-'));
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('is not in the host process environment nor in an exec job\'s, and logging in with it works', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawnHost({ dataDir, port, args: ['--metrics-public'] });
    try {
      await waitForHealthy(url);
      const environ = await readFile(`/proc/${child.pid}/environ`, 'latin1');
      assert.match(environ, /(^|\0)PATH=/, 'the environment block was read');
      assert.ok(!environ.includes(ADMIN_PASSWORD), 'the password is not in /proc/<host pid>/environ');
      const api = await Api.login(url, 'admin', ADMIN_PASSWORD);
      // A child of the host: its own environment and its parent's (the host's) hold no password either.
      const project = await api.post('/api/v1/projects', { name: 'env' });
      assert.equal(project.body.trusted, true, project.text);
      const job = await api.post('/api/v1/jobs', {
        projectId: project.body.id, name: 'env', kind: 'exec', schedule: { type: 'MANUAL' },
        entry: ['sh', '-c', 'tr "\\0" "\\n" < /proc/$PPID/environ; echo ---; env'],
      });
      assert.equal(job.status, 201, job.text);
      const run = await api.post(`/api/v1/jobs/${job.body.id}/trigger`);
      assert.equal((await finishedRun(api, run.body.runId)).status, 'SUCCEEDED');
      const log = (await api.get(`/api/v1/runs/${run.body.runId}/log`)).text;
      assert.match(log, /PATH=/);
      assert.match(log, /---/);
      assert.ok(!log.includes(ADMIN_PASSWORD), 'the exec job saw no password');
      // --metrics-public: /metrics answers without a token.
      assert.equal((await fetch(`${url}/metrics`)).status, 200);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });
});
