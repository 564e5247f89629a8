/**
 * A database outage under load, against a real host: every-second jobs and a stream of REST triggers, then the
 * database is taken away for 10 s and given back. MariaDB: a private server (its own data folder and port) is stopped
 * and started again. SQLite: the data folder is a small tmpfs of the test's own, filled up (SQLITE_FULL) and freed.
 * Every fire is accounted for (run, caught up under its job's misfire policy, or counted as missed), no row stays
 * open, triggers get 503 with Retry-After (never 500), and readiness reports the database.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HostConfig } from '../../host/config/index.js';
import { eventually, sleep, startHost, type TestHost } from '../helpers/host.js';
import { PrivateMariadb, privateMariadbSkipReason } from '../helpers/private-mariadb.js';
import { checkFinishedRuns, type ContractRun } from '../helpers/run-contract.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `export const quick = { execute() { return 'ok'; } };`;
const OUTAGE_MS = 10_000;

/** A database the test can take away from a running host and give back. */
interface Outage {
  name: string;
  skip: string | undefined;
  setUp(): Promise<{ db: HostConfig['db']; dataDir?: string }>;
  fail(): Promise<void>;
  restore(): Promise<void>;
  tearDown(): Promise<void>;
}

function mariadbOutage(): Outage {
  let server: PrivateMariadb | null = null;
  return {
    name: 'a private MariaDB stopped',
    skip: privateMariadbSkipReason(),
    async setUp() {
      server = await PrivateMariadb.create();
      return { db: { dialect: 'mysql', url: server.url } };
    },
    fail: () => server!.stop(),
    restore: () => server!.start(),
    tearDown: async () => server?.destroy(),
  };
}

/** SQLite's outage is its disk: the data folder is a tmpfs of 64 MB, filled to the last byte and freed again. */
function sqliteOutage(): Outage {
  let dir: string | null = null;
  let mounted = false;
  const filler = (): string => path.join(dir!, 'filler');
  return {
    name: 'SQLite on a full disk',
    skip: process.getuid?.() === 0 ? undefined : 'mounting a tmpfs for a full disk needs root',
    async setUp() {
      dir = await mkdtemp(path.join(os.tmpdir(), 'jc-full-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir]);
      mounted = true;
      return { db: { dialect: 'sqlite', file: path.join(dir, 'jobcenter.db') }, dataDir: dir };
    },
    async fail() {
      const file = await open(filler(), 'w');
      const chunk = Buffer.alloc(1024 * 1024);
      try {
        for (;;) await file.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        await file.close();
      }
    },
    restore: () => rm(filler(), { force: true }),
    async tearDown() {
      if (!dir) return;
      if (mounted) execFileSync('umount', [dir]);
      await rmdir(dir);
    },
  };
}

interface Metrics {
  [name: string]: number;
}

function parseMetrics(text: string): Metrics {
  const out: Metrics = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return out;
}

for (const outage of [sqliteOutage(), mariadbOutage()]) {
  describe(`a 10 s database outage under load: ${outage.name}`, { skip: outage.skip }, () => {
    let th: TestHost;

    before(async () => {
      const { db, dataDir } = await outage.setUp();
      th = await startHost({ db, dataDir });
    });

    after(async () => {
      await th?.stop();
      await outage.tearDown();
    });

    test('every fire is run, caught up or counted, no row stays open, and clients hear 503 with Retry-After', async (t) => {
      const project = await th.api.post('/api/v1/projects', { name: 'outage' });
      assert.equal((await th.api.upload(project.body.id, await threadBundle(CODE))).status, 201);
      const every = { type: 'CRON', cron: '* * * * * *' };
      const policies = ['fireOnce', 'skip', 'fireAll'] as const;
      const jobs: { id: number; misfire: string }[] = [];
      for (let i = 0; i < 45; i++) {
        const misfire = policies[i % 3]!;
        const res = await th.api.post('/api/v1/jobs', {
          projectId: project.body.id, name: `every-second-${i}`, kind: 'thread', entry: 'quick', schedule: every, concurrency: 'ALLOW', misfire, start: true,
        });
        assert.equal(res.status, 201, res.text);
        jobs.push({ id: res.body.id, misfire });
      }
      const manual = await th.api.post('/api/v1/jobs', { projectId: project.body.id, name: 'triggered', kind: 'thread', entry: 'quick', schedule: { type: 'MANUAL' } });
      assert.equal(manual.status, 201, manual.text);

      // A stream of REST triggers for the whole test, ten a second, each sent without waiting for the one before (a
      // trigger whose row was on its way when the database went away waits for it; the others are told to come back).
      const triggerStatuses = new Map<number, number>();
      const accepted: string[] = [];
      let retryAfterMissing = 0;
      const trigger = async (): Promise<void> => {
        try {
          const res = await fetch(`${th.url}/api/v1/jobs/${manual.body.id}/trigger`, { method: 'POST', headers: { authorization: `Bearer ${th.api.token}` } });
          const body = await res.text();
          triggerStatuses.set(res.status, (triggerStatuses.get(res.status) ?? 0) + 1);
          if (res.status === 202) accepted.push((JSON.parse(body) as { runId: string }).runId);
          if (res.status === 503 && !res.headers.get('retry-after')) retryAfterMissing++;
        } catch {
          triggerStatuses.set(0, (triggerStatuses.get(0) ?? 0) + 1);
        }
      };
      const sent: Promise<void>[] = [];
      const streaming = setInterval(() => sent.push(trigger()), 100);

      await sleep(3_000);
      await outage.fail();
      const health = await eventually('readiness to report the database down', async () => {
        const res = await fetch(`${th.url}/healthz`);
        const body = (await res.json()) as { database: { status: string } };
        return res.status === 503 && body.database.status === 'down' ? { retryAfter: res.headers.get('retry-after'), body } : undefined;
      }, OUTAGE_MS);
      assert.ok(health.retryAfter, 'an unready /healthz says when to ask again');
      const during = parseMetrics((await th.api.get('/metrics')).text);
      assert.equal(during['jobcenter_database_up'], 0);
      await sleep(OUTAGE_MS - 1_000);
      await outage.restore();
      await eventually('readiness to report the database up', async () => ((await fetch(`${th.url}/healthz`)).status === 200 ? true : undefined), 20_000);
      await sleep(4_000);
      clearInterval(streaming);
      await Promise.all(sent);
      for (const job of jobs) assert.equal((await th.api.post(`/api/v1/jobs/${job.id}/stop`)).status, 200);

      // No row stays open once the runs are over.
      await eventually('every row to be final', async () => {
        await th.host.parts.store.runWriter.flush();
        const open = [
          ...(await th.api.get<{ items: ContractRun[] }>('/api/v1/runs?status=QUEUED&limit=10')).body.items,
          ...(await th.api.get<{ items: ContractRun[] }>('/api/v1/runs?status=RUNNING&limit=10')).body.items,
        ];
        return open.length === 0 ? true : undefined;
      }, 20_000);

      // Every fire is accounted for: per job, the fire times from its first to its last recorded fire either have a
      // row or are counted as missed; dropped fires = caught up + missed.
      const metrics = parseMetrics((await th.api.get('/metrics')).text);
      const dropped = metrics['jobcenter_fires_dropped_total{reason="db_unavailable"}']! + metrics['jobcenter_fires_dropped_total{reason="row_backlog"}']!;
      assert.ok(metrics['jobcenter_fires_dropped_total{reason="db_unavailable"}']! > 0, 'fires during the outage were counted');
      assert.equal(metrics['jobcenter_fires_awaiting_catch_up'], 0);
      assert.equal(dropped, metrics['jobcenter_fires_caught_up_total']! + metrics['jobcenter_fires_missed_total']!, 'dropped = caught up + missed');
      let withoutRow = 0;
      for (const job of jobs) {
        const runs = (await th.api.get<{ items: ContractRun[] }>(`/api/v1/runs?jobId=${job.id}&limit=1000`)).body.items;
        checkFinishedRuns(runs);
        const fireTimes = new Set(runs.filter((r) => r.trigger === 'SCHEDULE').map((r) => Date.parse(r.scheduledAt)));
        const first = Math.min(...fireTimes);
        const last = Math.max(...fireTimes);
        const missing = (last - first) / 1_000 + 1 - fireTimes.size;
        if (job.misfire === 'fireAll') assert.equal(missing, 0, `job ${job.id} (fireAll) ran every fire time`);
        else assert.ok(missing > 0, `job ${job.id} (${job.misfire}) missed fires in the outage`);
        withoutRow += missing;
      }
      t.diagnostic(`dropped ${dropped}, caught up ${metrics['jobcenter_fires_caught_up_total']}, missed ${metrics['jobcenter_fires_missed_total']}, late ${metrics['jobcenter_fires_late_total']}, fire times without a row ${withoutRow}, triggers ${JSON.stringify([...triggerStatuses])}`);
      assert.equal(withoutRow, metrics['jobcenter_fires_missed_total'], 'every fire time without a row is counted as missed');

      // Clients were told to come back, never given a 500.
      assert.equal(triggerStatuses.get(500) ?? 0, 0, `trigger answers: ${JSON.stringify([...triggerStatuses])}`);
      assert.ok((triggerStatuses.get(503) ?? 0) > 0, `some triggers met the outage: ${JSON.stringify([...triggerStatuses])}`);
      assert.equal(retryAfterMissing, 0, 'every 503 carries Retry-After');
      // Every trigger that was accepted has its run, ended.
      const triggered = (await th.api.get<{ items: ContractRun[] }>(`/api/v1/runs?jobId=${manual.body.id}&limit=1000`)).body.items;
      checkFinishedRuns(triggered);
      const recorded = new Set(triggered.filter((r) => r.status === 'SUCCEEDED').map((r) => r.runId));
      assert.deepEqual(accepted.filter((runId) => !recorded.has(runId)), [], 'every accepted trigger ran');
    });
  });
}
