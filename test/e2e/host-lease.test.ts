/**
 * One host per database and per data folder (until cluster mode exists), on SQLite and MySQL/MariaDB: a second host
 * refuses to start and names the holder, in-process and as the CLI; a clean stop lets the next host start at once;
 * after a kill -9 the next host starts once the lease expired; a host paused past its lease stops when it resumes;
 * a job stopped through the one host runs nowhere.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import type { HostConfig, HostOptions } from '../../host/config/index.js';
import { createHost } from '../../host/main.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { ADMIN_PASSWORD, Api, dbUrl, eventually, exited, freePort, SAMPLES, sleep, spawnHost, startHost, waitForHealthy, type TestHost } from '../helpers/host.js';
import { checkFinishedRuns, type ContractRun } from '../helpers/run-contract.js';
import { threadBundle } from '../helpers/zip.js';
import { HOSTILE_AND_GOOD } from '../fixtures/e2e/jobs.js';

/** Short enough for the kill -9 case to take seconds, long enough for a loaded machine to renew in time. */
const LEASE_MS = 3_000;

/** Starting a host whose start must be refused: the error it fails with. */
async function refusedStart(options: HostOptions): Promise<Error> {
  const host = createHost({ port: 0, bind: '127.0.0.1', adminPassword: ADMIN_PASSWORD, samplesDir: SAMPLES, leaseMs: LEASE_MS, ...options });
  try {
    await host.start();
  } catch (err) {
    return err as Error;
  } finally {
    await host.stop();
  }
  assert.fail(`a second host (${options.hostId}) started on a database or data folder another host holds`);
}

/** Runs the CLI to its end, for a start that must be refused: exit code and what it printed. */
async function refusedCli(args: Parameters<typeof spawnHost>[0]): Promise<{ code: number | null; output: string }> {
  const child = spawnHost(args);
  const printed = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const { code } = await exited(child);
  clearTimeout(timer);
  return { code, output: printed.text };
}

/** What a host process prints, stdout and stderr together. */
function collect(child: ChildProcess): { text: string } {
  const printed = { text: '' };
  child.stdout!.on('data', (chunk: Buffer) => (printed.text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (printed.text += chunk.toString()));
  return printed;
}

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'jc-lease-'));
}

for (const database of testDatabases()) {
  describe(`one host per database on ${database.name}`, { skip: database.skip }, () => {
    const hosts: TestHost[] = [];
    const children: ChildProcess[] = [];
    const dirs: string[] = [];
    let made: MadeDatabase | null = null;

    async function fresh(): Promise<HostConfig['db']> {
      made = await database.make();
      return made.db;
    }

    async function host(db: HostConfig['db'], hostId: string): Promise<TestHost> {
      const th = await startHost({ db, options: { hostId, leaseMs: LEASE_MS } });
      hosts.push(th);
      return th;
    }

    /** A host as its own process on a fresh data folder, up and serving. */
    async function cliHost(db: HostConfig['db'], hostId: string): Promise<{ child: ChildProcess; printed: { text: string } }> {
      const dataDir = await tempDir();
      dirs.push(dataDir);
      const port = await freePort();
      const child = spawnHost({ dataDir, port, db, args: ['--host-id', hostId, '--lease-ms', String(LEASE_MS)] });
      children.push(child);
      const printed = collect(child);
      await waitForHealthy(`http://127.0.0.1:${port}`);
      return { child, printed };
    }

    /** Starts a host once the one named `holder` no longer holds the database (its lease expired). */
    async function hostOnceFreed(db: HostConfig['db'], hostId: string, holder: string): Promise<TestHost> {
      const dataDir = await tempDir();
      dirs.push(dataDir);
      const th = await eventually(`${holder}'s lease to expire`, async () => {
        try {
          return await startHost({ db, dataDir, options: { hostId, leaseMs: LEASE_MS } });
        } catch (e) {
          assert.match((e as Error).message, new RegExp(holder));
          return undefined;
        }
      }, LEASE_MS + 15_000);
      hosts.push(th);
      return th;
    }

    afterEach(async () => {
      for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const th of hosts.splice(0)) await th.stop();
      await made?.drop();
      made = null;
      for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
    });

    after(async () => {
      for (const th of hosts) await th.stop();
    });

    test('a second host on the same database refuses to start and names the host that holds it', async () => {
      const db = await fresh();
      await host(db, 'first-host');
      const dataDir = await tempDir();
      dirs.push(dataDir);
      const err = await refusedStart({ dbUrl: dbUrl(db), dataDir, hostId: 'second-host' });
      assert.match(err.message, /first-host/);
      assert.match(err.message, new RegExp(`pid ${process.pid}`));

      const cli = await refusedCli({ dataDir, port: await freePort(), db, args: ['--host-id', 'cli-host', '--lease-ms', String(LEASE_MS)] });
      assert.notEqual(cli.code, 0, cli.output);
      assert.match(cli.output, /first-host/);
    });

    test('a second host with the same host id refuses to start too', async () => {
      const db = await fresh();
      await host(db, 'same-id');
      const dataDir = await tempDir();
      dirs.push(dataDir);
      const err = await refusedStart({ dbUrl: dbUrl(db), dataDir, hostId: 'same-id' });
      assert.match(err.message, /same-id/);
    });

    test('after the first host stops cleanly the second starts at once', async () => {
      const db = await fresh();
      const first = await host(db, 'first-host');
      await first.stop();
      hosts.splice(hosts.indexOf(first), 1);
      const started = Date.now();
      await host(db, 'second-host');
      assert.ok(Date.now() - started < LEASE_MS, `the second host waited for nothing (${Date.now() - started} ms)`);
    });

    test('after the first host is killed -9 the second starts once the lease expired', async () => {
      const db = await fresh();
      const { child } = await cliHost(db, 'killed-host');
      child.kill('SIGKILL');
      await exited(child);
      const killedAt = Date.now();

      const otherDir = await tempDir();
      dirs.push(otherDir);
      const err = await refusedStart({ dbUrl: dbUrl(db), dataDir: otherDir, hostId: 'next-host' });
      assert.match(err.message, /killed-host/);
      await hostOnceFreed(db, 'next-host', 'killed-host');
      assert.ok(Date.now() - killedAt >= LEASE_MS / 2, 'the lease of the killed host held for a while');
    });

    test('a host paused past its lease finds it taken over when it resumes, and stops with status 1', async () => {
      const db = await fresh();
      const { child, printed } = await cliHost(db, 'paused-host');
      child.kill('SIGSTOP');
      const next = await hostOnceFreed(db, 'taking-host', 'paused-host');

      child.kill('SIGCONT');
      const end = await exited(child);
      assert.equal(end.code, 1, printed.text);
      assert.match(printed.text, /LOST ITS LEASE/);
      assert.equal((await next.api.get('/api/v1/hosts')).status, 200, 'the host that took over goes on');
    });

    test('a job stopped through the one host runs nowhere afterwards', async () => {
      const db = await fresh();
      const th = await host(db, 'the-host');
      const project = await th.api.post('/api/v1/projects', { name: 'stopped' });
      assert.equal((await th.api.upload(project.body.id, await threadBundle(HOSTILE_AND_GOOD))).status, 201);
      const job = await th.api.post('/api/v1/jobs', {
        projectId: project.body.id, name: 'every-second', kind: 'thread', entry: 'sleepy', params: { ms: 400 }, concurrency: 'ALLOW',
        schedule: { type: 'CRON', cron: '* * * * * *' }, start: true,
      });
      assert.equal(job.status, 201, job.text);
      const dataDir = await tempDir();
      dirs.push(dataDir);
      // Before hosts refused a shared database, this second host scheduled the job as well and went on running it.
      await refusedStart({ dbUrl: dbUrl(db), dataDir, hostId: 'other-host' });
      await eventually('a run of the job', async () => {
        const runs = (await th.api.get<{ items: ContractRun[] }>(`/api/v1/runs?jobId=${job.body.id}`)).body.items;
        return runs.some((run) => run.status === 'SUCCEEDED') ? true : undefined;
      });
      assert.equal((await th.api.post(`/api/v1/jobs/${job.body.id}/stop`)).status, 200);
      const stoppedAt = Date.now();
      await sleep(2_500);
      const runs = (await th.api.get<{ items: ContractRun[] }>(`/api/v1/runs?jobId=${job.body.id}&limit=200`)).body.items;
      checkFinishedRuns(runs);
      // A fire planned before the stop is dropped; one that started in that instant may end after it.
      const later = runs.filter((run) => Date.parse(run.scheduledAt) > stoppedAt + 1_000);
      assert.deepEqual(later, [], 'no run after the stop');
      assert.ok(runs.every((run) => run.host === 'the-host'), `runs of other hosts: ${runs.map((r) => r.host).join(', ')}`);
    });
  });
}

describe('one host per data folder', () => {
  const hosts: TestHost[] = [];
  const children: ChildProcess[] = [];
  const dirs: string[] = [];

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const th of hosts) await th.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('a second host on the same data folder with another database refuses to start and names the holder', async () => {
    const dataDir = await tempDir();
    const dbDir = await tempDir();
    dirs.push(dataDir, dbDir);
    const th = await startHost({ dataDir, options: { hostId: 'folder-holder', leaseMs: LEASE_MS } });
    hosts.push(th);
    const err = await refusedStart({ dataDir, dbUrl: `sqlite:${path.join(dbDir, 'other.db')}`, hostId: 'folder-guest' });
    assert.match(err.message, /folder-holder/);
    assert.match(err.message, new RegExp(`pid ${process.pid}`));
  });

  test('a data folder whose host was killed -9 is taken over at once by the next host on this machine', async () => {
    const dataDir = await tempDir();
    const dbDir = await tempDir();
    dirs.push(dataDir, dbDir);
    const port = await freePort();
    const first = spawnHost({ dataDir, port, args: ['--host-id', 'killed-folder-host', '--lease-ms', String(LEASE_MS)] });
    children.push(first);
    await waitForHealthy(`http://127.0.0.1:${port}`);
    first.kill('SIGKILL');
    await exited(first);
    const th = await startHost({ dataDir, db: { dialect: 'sqlite', file: path.join(dbDir, 'other.db') }, options: { hostId: 'next-folder-host', leaseMs: LEASE_MS } });
    hosts.push(th);
    const api = await Api.login(th.url, 'admin', ADMIN_PASSWORD);
    assert.equal((await api.get('/api/v1/hosts')).status, 200);
  });
});
