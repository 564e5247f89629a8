/**
 * A host's stop, end to end, on SQLite and MySQL/MariaDB: runs that end within the shutdown grace keep their own
 * outcome, the rest are aborted, what ignores its abort is terminated after the kill grace, queued runs never start,
 * exec process groups die, and every row is final once stop() returns. The rows are read from the database itself
 * after the stop: a restarted host's recovery would turn leftovers into INTERRUPTED rows and hide them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { silentLogger } from '../../host/log/logger.js';
import { createStore } from '../../host/store/index.js';
import type { HostConfig } from '../../host/config/index.js';
import { presentRun } from '../../host/web/present.js';
import { testDatabases } from '../helpers/db.js';
import { eventually, sleep, startHost, type Api, type TestHost } from '../helpers/host.js';
import { isAlive } from '../helpers/processes.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { threadBundle } from '../helpers/zip.js';

const SHUTDOWN_GRACE_MS = 2_000;
const KILL_GRACE_MS = 1_000;
/** What a stop may take beyond its two graces: closing executors, the last group commit, the store. */
const STOP_MARGIN_MS = 3_000;

/** Jobs for each way a run can meet a stop. */
const STOP_JOBS = `
export const quick = { execute(ctx) { return new Promise((resolve) => setTimeout(() => resolve('quick done'), ctx.params.ms)); } };
export const polite = {
  execute(ctx) {
    return new Promise((resolve, reject) => {
      const keepAlive = setInterval(() => {}, 1000);
      ctx.signal.addEventListener('abort', () => { clearInterval(keepAlive); reject(new Error('stopped on abort: ' + ctx.signal.reason)); });
    });
  },
};
export const deaf = { execute() { return new Promise((resolve) => setTimeout(() => resolve('deaf done'), 60000)); } };
export const spin = { execute() { for (;;) {} } };
`;

interface Run extends ContractRun {
  logBytes: number;
}

async function runStatus(api: Api, runId: string): Promise<string> {
  const res = await api.get<Run>(`/api/v1/runs/${runId}`);
  assert.equal(res.status, 200, res.text);
  return res.body.status;
}

/** Every run row in the database, shaped as the REST API shows it. */
async function rowsInDatabase(db: HostConfig['db']): Promise<Map<string, Run>> {
  const store = await createStore(db, silentLogger);
  try {
    const { items, nextCursor } = await store.runs.list({ limit: 1_000 });
    assert.equal(nextCursor, null);
    return new Map(items.map((row) => [row.runId, JSON.parse(JSON.stringify(presentRun(row))) as Run]));
  } finally {
    await store.close();
  }
}

for (const database of testDatabases()) {
  describe(`stopping a host on ${database.name}`, { skip: database.skip }, () => {
    const cleanup: (() => Promise<unknown>)[] = [];
    after(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    test('runs within the grace finish, the rest are aborted or terminated, queued runs never start, and every row is final', async (t) => {
      const made = await database.make();
      cleanup.push(() => made.drop());
      const scratch = await mkdtemp(path.join(os.tmpdir(), 'jc-stop-'));
      cleanup.push(() => rm(scratch, { recursive: true, force: true }));
      const th: TestHost = await startHost({ db: made.db, options: { shutdownGraceMs: SHUTDOWN_GRACE_MS, killGraceMs: KILL_GRACE_MS } });
      cleanup.push(() => th.stop());
      const { api } = th;

      const project = async (name: string): Promise<number> => {
        const res = await api.post('/api/v1/projects', { name, description: 'graceful stop' });
        assert.equal(res.status, 201, res.text);
        const upload = await api.upload(res.body.id, await threadBundle(STOP_JOBS));
        assert.equal(upload.status, 201, upload.text);
        return res.body.id;
      };
      // The spinning run blocks its worker's thread: it gets a project (and so a worker) of its own.
      const [main, spinning] = [await project('stop-main'), await project('stop-spin')];
      const job = async (projectId: number, name: string, body: Record<string, unknown>): Promise<number> => {
        const res = await api.post('/api/v1/jobs', { projectId, name, schedule: { type: 'MANUAL' }, concurrency: 'ALLOW', ...body });
        assert.equal(res.status, 201, res.text);
        return res.body.id;
      };
      const trigger = async (jobId: number, params?: unknown): Promise<string> => {
        const res = await api.post(`/api/v1/jobs/${jobId}/trigger`, params === undefined ? undefined : { params });
        assert.equal(res.status, 202, res.text);
        return res.body.runId;
      };
      const pidFile = path.join(scratch, 'pids');
      const jobs = {
        quick: await job(main, 'quick', { kind: 'thread', entry: 'quick' }),
        polite: await job(main, 'polite', { kind: 'thread', entry: 'polite', concurrency: 'WAIT' }),
        deaf: await job(main, 'deaf', { kind: 'thread', entry: 'deaf' }),
        spin: await job(spinning, 'spin', { kind: 'thread', entry: 'spin' }),
        // TERM is ignored by the shell and, inherited, by its background sleep: only the group's SIGKILL ends them.
        exec: await job(main, 'exec', {
          kind: 'exec',
          entry: ['/bin/sh', '-c', `trap '' TERM; sleep 60 & echo $$ $! > '${pidFile}'; while :; do sleep 0.1; done`],
        }),
      };

      // A scheduled job: its runs start through the planned path (rows written ahead, RUNNING written late).
      const ticker = await job(main, 'ticker', { kind: 'thread', entry: 'polite', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
      const runs = {
        polite: await trigger(jobs.polite),
        queued: await trigger(jobs.polite),
        deaf: await trigger(jobs.deaf),
        spin: await trigger(jobs.spin),
        exec: await trigger(jobs.exec),
      };
      await eventually('every run but the queued one to be RUNNING', async () => {
        for (const runId of [runs.polite, runs.deaf, runs.spin, runs.exec]) if ((await runStatus(api, runId)) !== 'RUNNING') return undefined;
        return true;
      });
      await eventually('two runs of the scheduled job', async () => {
        const res = await api.get<{ items: Run[] }>(`/api/v1/runs?jobId=${ticker}&status=RUNNING`);
        return res.body.items.length >= 2 ? true : undefined;
      });
      assert.equal(await runStatus(api, runs.queued), 'QUEUED', 'the second run of a WAIT job waits behind the first');
      const pids = await eventually('the exec run to write its pids', async () => {
        const text = await readFile(pidFile, 'utf8').catch(() => '');
        const found = text.trim().split(/\s+/).map(Number).filter((pid) => pid > 0);
        return found.length === 2 ? found : undefined;
      });
      assert.ok(pids.every(isAlive), 'the exec run and its background sleep are running');
      // Started last, so it is surely still going when the stop begins, and ends well within the grace.
      const quick = await trigger(jobs.quick, { ms: 600 });
      await eventually('the quick run to be RUNNING', async () => ((await runStatus(api, quick)) === 'RUNNING' ? true : undefined));

      const stopStarted = Date.now();
      await th.host.stop();
      const stopMs = Date.now() - stopStarted;
      t.diagnostic(`stop() took ${stopMs} ms (grace ${SHUTDOWN_GRACE_MS} + kill grace ${KILL_GRACE_MS})`);
      assert.ok(stopMs <= SHUTDOWN_GRACE_MS + KILL_GRACE_MS + STOP_MARGIN_MS, `stop() took ${stopMs} ms`);

      for (const pid of pids) assert.equal(isAlive(pid), false, `exec process ${pid} is gone after the stop`);
      const rows = await rowsInDatabase(made.db);
      for (const run of rows.values()) checkRunContract(run);
      const row = (runId: string): Run => {
        assert.ok(rows.has(runId), `run ${runId} is in the database`);
        return rows.get(runId)!;
      };
      // Aborted at the end of the shutdown grace, terminated a kill grace later.
      const abortedAt = stopStarted + SHUTDOWN_GRACE_MS;

      assert.equal(row(quick).status, 'SUCCEEDED', 'a run that ends within the grace keeps its outcome');
      assert.equal(row(quick).result, 'quick done');
      assert.ok(Date.parse(row(quick).endedAt!) < abortedAt, 'the quick run ended before the abort');

      const polite = row(runs.polite);
      assert.equal(polite.status, 'INTERRUPTED');
      assert.match(polite.error!.message, /host shutdown/);
      assert.match(polite.error!.message, /stopped on abort/, 'the job saw its abort signal and ended on it');
      assert.ok(Date.parse(polite.endedAt!) < abortedAt + KILL_GRACE_MS, 'a run that honours its abort ends before the kill grace is over');

      const ticks = [...rows.values()].filter((run) => run.jobId === ticker);
      assert.ok(ticks.length >= 2, `the scheduled job ran (${ticks.length} runs)`);
      for (const tick of ticks) {
        assert.equal(tick.status, 'INTERRUPTED', `scheduled run ${tick.runId}`);
        assert.match(tick.error!.message, /host shutdown/);
      }

      const queued = row(runs.queued);
      assert.equal(queued.status, 'INTERRUPTED');
      assert.equal(queued.startedAt, null, 'a queued run never starts during a stop');
      assert.match(queued.error!.message, /shut down before the run started/);

      for (const [name, runId] of [['deaf', runs.deaf], ['spin', runs.spin], ['exec', runs.exec]] as const) {
        const ended = row(runId);
        assert.equal(ended.status, 'INTERRUPTED', name);
        assert.match(ended.error!.message, /host shutdown/, name);
        const endedAt = Date.parse(ended.endedAt!);
        assert.ok(endedAt >= abortedAt + KILL_GRACE_MS - 100, `${name} ended ${endedAt - abortedAt} ms after the abort, before its kill grace ran out`);
        assert.ok(endedAt <= stopStarted + stopMs, `${name} ended after stop() returned`);
      }
    });

    test(
      'a run triggered as the host stops is not left RUNNING: it ends INTERRUPTED',
      {
        // On SQLite a write waiting for an outside lock can stall the whole event loop for the busy timeout (seen:
        // 15 s; node-sqlite3 finalises statements on the main thread under the connection's mutex), so the row is
        // not held back there; the race is the same (seen with a trigger a few ms before stop()).
        skip: database.name === 'sqlite' && 'the row write is held back with LOCK TABLES',
      },
      async () => {
        const made = await database.make();
        cleanup.push(() => made.drop());
        const th: TestHost = await startHost({ db: made.db, options: { shutdownGraceMs: SHUTDOWN_GRACE_MS, killGraceMs: KILL_GRACE_MS } });
        cleanup.push(() => th.stop());
        const project = await th.api.post('/api/v1/projects', { name: 'stop-race', description: 'graceful stop' });
        assert.equal((await th.api.upload(project.body.id, await threadBundle(STOP_JOBS))).status, 201);
        const job = await th.api.post('/api/v1/jobs', { projectId: project.body.id, name: 'quick', kind: 'thread', entry: 'quick', schedule: { type: 'MANUAL' }, concurrency: 'ALLOW' });
        assert.equal(job.status, 201, job.text);
        // The run's row write is held at the database until the stop has drained (nothing was running): the
        // trigger was taken before the stop, its row commits after.
        const release = await holdRunWrites((made.db as { url: string }).url);
        try {
          void th.api.post(`/api/v1/jobs/${job.body.id}/trigger`, { params: { ms: 50 } }).catch(() => null);
          await sleep(500);
          const stopped = th.host.stop();
          await sleep(500);
          await release();
          await stopped;
        } finally {
          await release();
        }
        const rows = [...(await rowsInDatabase(made.db)).values()];
        assert.equal(rows.length, 1, 'the triggered run has its row');
        checkRunContract(rows[0]!);
        assert.equal(rows[0]!.status, 'INTERRUPTED');
      },
    );
  });
}

/** Blocks writes to the runs table from any other session until the returned release is called (idempotent). */
async function holdRunWrites(url: string): Promise<() => Promise<void>> {
  const connection = await mysql.createConnection(url);
  await connection.query('LOCK TABLES runs WRITE');
  let released: Promise<void> | null = null;
  return () => (released ??= connection.query('UNLOCK TABLES').then(() => connection.end()));
}
