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
import { Api, ADMIN_PASSWORD, eventually, exited, freePort, sleep, spawnHost, spawnWithProject, waitForHealthy } from '../helpers/host.js';
import { checkRunContract } from '../helpers/run-contract.js';
import { listRuns, readRun } from '../helpers/runs.js';
import { HOSTILE_AND_GOOD } from '../fixtures/e2e/jobs.js';

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
      // A short lease: the restart below comes 3 s after the kill, when the killed host's lease has expired.
      const { child: first, api, job: mk } = await spawnWithProject({ dataDir, db: made.db, project: 'restart', code: HOSTILE_AND_GOOD, args: ['--lease-ms', '2000'] });
      children.push(first);
      const long = await mk({ name: 'long', entry: 'sleepy', params: { ms: 120_000 }, onInterrupt: 'rerun', schedule: { type: 'MANUAL' } });
      const cron = await mk({ name: 'cron', entry: 'ok', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
      const interval = await mk({ name: 'interval', entry: 'ok', schedule: { type: 'INTERVAL', everyMs: 1500 }, start: true });
      const future = new Date(Date.now() + 3600_000).toISOString();
      const pending = await mk({ name: 'pending', entry: 'ok', schedule: { type: 'CRON', cron: '0 * * * * *', startAt: future }, start: true });
      const longRun = (await api.post(`/api/v1/jobs/${long}/trigger`)).body.runId as string;
      await eventually('the long run RUNNING and two cron runs', async () => {
        const run = await readRun(api, longRun);
        const cronRuns = await listRuns(api, `jobId=${cron}&status=SUCCEEDED`);
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

      const interrupted = await readRun(api2, longRun);
      assert.equal(interrupted.status, 'INTERRUPTED');
      assert.match(interrupted.error!.message, /host stopped while the run was RUNNING/);
      const longRuns = await listRuns(api2, `jobId=${long}`);
      assert.ok(longRuns.some((r) => r.trigger === 'RECOVERY'), 'a RECOVERY run was started');

      for (const id of [cron, interval]) assert.equal((await api2.get(`/api/v1/jobs/${id}`)).body.state, 'ACTIVE');
      assert.equal((await api2.get(`/api/v1/jobs/${pending}`)).body.state, 'PENDING');

      const cronRuns = await eventually('cron runs after the restart', async () => {
        const items = await listRuns(api2, `jobId=${cron}&limit=500`);
        return items.some((r) => new Date(r.scheduledAt).getTime() > Date.now() - 1500 && r.status === 'SUCCEEDED') ? items : undefined;
      });
      // Run by the second host, for a fire time from before it started: the catch-up.
      const catchUps = cronRuns.filter(
        (r) => new Date(r.scheduledAt).getTime() < restartedAt && r.startedAt !== null && new Date(r.startedAt).getTime() > restartedAt,
      );
      assert.equal(catchUps.length, 1, `one catch-up run for the missed seconds: ${JSON.stringify(catchUps)}`);
      // Cron runs that ran to their end, on either host, say what they used.
      for (const run of cronRuns) if (run.status === 'SUCCEEDED') checkRunContract(run, { resources: true });

      const intervalRuns = await eventually('interval runs after the restart', async () => {
        const items = await listRuns(api2, `jobId=${interval}&limit=500`);
        const late = items.filter((r) => new Date(r.scheduledAt).getTime() > killedAt + 3000);
        return late.length >= 1 ? late : undefined;
      });
      for (const run of intervalRuns) {
        assert.equal((new Date(run.scheduledAt).getTime() - anchor) % 1500, 0, 'interval keeps its phase');
        if (run.status === 'SUCCEEDED') checkRunContract(run, { resources: true });
      }

      second.kill('SIGTERM');
      const end = await exited(second);
      assert.equal(end.code, 0, 'SIGTERM stops the host cleanly');
    });
  });
}
