/**
 * A host whose port is taken must say so and exit non-zero before it touches a job: no recovery of the runs a
 * crashed host left RUNNING, no catch-up fire of an active job, nothing written to a run row or a job.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { createStore } from '../../host/store/index.js';
import type { HostConfig } from '../../host/config/index.js';
import { testDatabases } from '../helpers/db.js';
import { eventually, exited, freePort, spawnHost, spawnWithProject } from '../helpers/host.js';
import { HOSTILE_AND_GOOD } from '../fixtures/e2e/jobs.js';

/** Every run row and every job as the database holds them. */
async function snapshot(db: HostConfig['db']): Promise<unknown> {
  const store = await createStore(db, silentLogger);
  try {
    const runs = await store.runs.list({ limit: 1_000 });
    const jobs = await store.jobs.list({});
    return { runs: runs.items, jobs };
  } finally {
    await store.close();
  }
}

function collect(child: ChildProcess): () => string {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

for (const database of testDatabases()) {
  describe(`a host whose port is taken on ${database.name}`, { skip: database.skip }, () => {
    const children: ChildProcess[] = [];
    let cleanup: (() => Promise<void>)[] = [];

    after(async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const step of cleanup.reverse()) await step();
      cleanup = [];
    });

    test('exits non-zero naming the port and EADDRINUSE, and leaves every run row and job as it found them', async () => {
      const made = await database.make();
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-listen-'));
      cleanup.push(() => made.drop(), () => rm(dataDir, { recursive: true, force: true }));

      // A crashed host's leftovers: a run still RUNNING and an active job whose fire times go by while it is down.
      const { child: first, api, job: mk } = await spawnWithProject({ dataDir, db: made.db, project: 'taken', code: HOSTILE_AND_GOOD });
      children.push(first);
      const long = await mk({ name: 'long', entry: 'sleepy', params: { ms: 120_000 }, onInterrupt: 'rerun', schedule: { type: 'MANUAL' } });
      await mk({ name: 'every-second', entry: 'ok', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
      const longRun = (await api.post(`/api/v1/jobs/${long}/trigger`)).body.runId as string;
      await eventually('the long run RUNNING', async () => ((await api.get(`/api/v1/runs/${longRun}`)).body.status === 'RUNNING' ? true : undefined));
      first.kill('SIGKILL');
      await exited(first);
      const before = await snapshot(made.db);

      const taken = await freePort();
      const holder = await occupy(taken);
      cleanup.push(() => new Promise<void>((resolve) => holder.close(() => resolve())));
      const second = spawnHost({ dataDir, port: taken, db: made.db });
      children.push(second);
      const output = collect(second);
      // Before the fix it never exited: it recovered, fired jobs and served nothing.
      const deadline = setTimeout(() => second.kill('SIGKILL'), 20_000);
      const end = await exited(second);
      clearTimeout(deadline);

      assert.equal(end.signal, null, `the host exits by itself within 20 s: ${output()}`);
      assert.notEqual(end.code, 0, `exit code: ${output()}`);
      assert.match(output(), new RegExp(`127\\.0\\.0\\.1:${taken}`), 'the message names the address');
      assert.match(output(), /EADDRINUSE/, 'the message names the error');
      assert.deepEqual(await snapshot(made.db), before, 'no run row or job was touched');
    });
  });
}
