/**
 * kill -9 of the host process mid-run, then a restart on the same data: runs left RUNNING become INTERRUPTED,
 * onInterrupt 'rerun' starts a RECOVERY run, active jobs are scheduled again (interval jobs keep their phase),
 * missed fire times get one catch-up run, PENDING stays PENDING. Then SIGTERM stops the host cleanly.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { Api, ADMIN_PASSWORD, eventually, exited, freePort, sleep, spawnHost, waitForHealthy } from '../helpers/host.js';
import { threadBundle } from '../helpers/zip.js';
import { HOSTILE_AND_GOOD } from '../fixtures/e2e/jobs.js';

interface Run {
  runId: string;
  status: string;
  trigger: string;
  scheduledAt: string;
  startedAt: string | null;
  error: { message: string } | null;
}

for (const database of testDatabases()) {
  describe(`restart after kill -9 on ${database.name}`, { skip: database.skip }, () => {
    const children: ChildProcess[] = [];
    let cleanup: (() => Promise<void>)[] = [];

    after(async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const step of cleanup) await step();
      cleanup = [];
    });

    test('interrupted runs, rescheduled jobs, a catch-up run, and a recovery run', async () => {
      const made = await database.make();
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-restart-'));
      cleanup.push(() => made.drop(), () => rm(dataDir, { recursive: true, force: true }));
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;

      // A short lease: the restart below comes 3 s after the kill, when the killed host's lease has expired.
      const first = spawnHost({ dataDir, port, db: made.db, args: ['--lease-ms', '2000'] });
      children.push(first);
      await waitForHealthy(url);
      const api = await Api.login(url, 'admin', ADMIN_PASSWORD);
      const projectId = (await api.post('/api/v1/projects', { name: 'restart' })).body.id;
      assert.equal((await api.upload(projectId, await threadBundle(HOSTILE_AND_GOOD))).status, 201);
      const mk = async (body: Record<string, unknown>): Promise<number> => {
        const res = await api.post('/api/v1/jobs', { projectId, kind: 'thread', ...body });
        assert.equal(res.status, 201, res.text);
        return res.body.id;
      };
      const long = await mk({ name: 'long', entry: 'sleepy', params: { ms: 120_000 }, onInterrupt: 'rerun', schedule: { type: 'MANUAL' } });
      const cron = await mk({ name: 'cron', entry: 'ok', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
      const interval = await mk({ name: 'interval', entry: 'ok', schedule: { type: 'INTERVAL', everyMs: 1500 }, start: true });
      const future = new Date(Date.now() + 3600_000).toISOString();
      const pending = await mk({ name: 'pending', entry: 'ok', schedule: { type: 'CRON', cron: '0 * * * * *', startAt: future }, start: true });
      const longRun = (await api.post(`/api/v1/jobs/${long}/trigger`)).body.runId as string;
      await eventually('the long run RUNNING and two cron runs', async () => {
        const run = (await api.get<Run>(`/api/v1/runs/${longRun}`)).body;
        const cronRuns = (await api.get<{ items: Run[] }>(`/api/v1/runs?jobId=${cron}&status=SUCCEEDED`)).body.items;
        return run.status === 'RUNNING' && cronRuns.length >= 2 ? true : undefined;
      });
      const anchor = new Date((await api.get(`/api/v1/jobs/${interval}`)).body.anchorAt).getTime();

      first.kill('SIGKILL');
      const killedAt = Date.now();
      assert.equal((await exited(first)).signal, 'SIGKILL');
      await sleep(3000);

      // A different port gives the host a different default id: its runs must still be recovered.
      const port2 = await freePort();
      const url2 = `http://127.0.0.1:${port2}`;
      const restartedAt = Date.now();
      const second = spawnHost({ dataDir, port: port2, db: made.db, args: ['--lease-ms', '2000'] });
      children.push(second);
      await waitForHealthy(url2);
      const api2 = await Api.login(url2, 'admin', ADMIN_PASSWORD);

      const interrupted = (await api2.get<Run>(`/api/v1/runs/${longRun}`)).body;
      assert.equal(interrupted.status, 'INTERRUPTED');
      assert.match(interrupted.error!.message, /host stopped while the run was RUNNING/);
      const longRuns = (await api2.get<{ items: Run[] }>(`/api/v1/runs?jobId=${long}`)).body.items;
      assert.ok(longRuns.some((r) => r.trigger === 'RECOVERY'), 'a RECOVERY run was started');

      for (const id of [cron, interval]) assert.equal((await api2.get(`/api/v1/jobs/${id}`)).body.state, 'ACTIVE');
      assert.equal((await api2.get(`/api/v1/jobs/${pending}`)).body.state, 'PENDING');

      const cronRuns = await eventually('cron runs after the restart', async () => {
        const items = (await api2.get<{ items: Run[] }>(`/api/v1/runs?jobId=${cron}&limit=500`)).body.items;
        return items.some((r) => new Date(r.scheduledAt).getTime() > Date.now() - 1500 && r.status === 'SUCCEEDED') ? items : undefined;
      });
      // Run by the second host, for a fire time from before it started: the catch-up.
      const catchUps = cronRuns.filter(
        (r) => new Date(r.scheduledAt).getTime() < restartedAt && r.startedAt !== null && new Date(r.startedAt).getTime() > restartedAt,
      );
      assert.equal(catchUps.length, 1, `one catch-up run for the missed seconds: ${JSON.stringify(catchUps)}`);

      const intervalRuns = await eventually('interval runs after the restart', async () => {
        const items = (await api2.get<{ items: Run[] }>(`/api/v1/runs?jobId=${interval}&limit=500`)).body.items;
        const late = items.filter((r) => new Date(r.scheduledAt).getTime() > killedAt + 3000);
        return late.length >= 1 ? late : undefined;
      });
      for (const run of intervalRuns) assert.equal((new Date(run.scheduledAt).getTime() - anchor) % 1500, 0, 'interval keeps its phase');

      second.kill('SIGTERM');
      const end = await exited(second);
      assert.equal(end.code, 0, 'SIGTERM stops the host cleanly');
    });
  });
}
