import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { createStore } from '../../host/store/index.js';
import type { JobRecord, RunRecord } from '../../host/domain/index.js';
import type { Store } from '../../host/store/types.js';
import { testDatabases } from '../helpers/db.js';
import type { MadeDatabase } from '../helpers/db.js';
import { newRun, seedJob } from './builders.js';

const T0 = Date.UTC(2025, 0, 1, 0, 0, 0, 0);

for (const database of testDatabases()) {
  describe(`run writer and run queries on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    let store: Store;

    before(async () => {
      made = await database.make();
      store = await createStore(made.db, silentLogger);
    });
    after(async () => {
      await store?.close();
      await made?.drop();
    });

    test('2,500 inserts and their updates are committed in batches and read back exactly', async () => {
      const job = await seedJob(store, 'bulk');
      const runs = Array.from({ length: 2_500 }, (_, i) => newRun(job, new Date(T0 + i * 1_001)));
      await Promise.all(runs.map((run) => store.runWriter.insert(run)));
      const endedAt = new Date(T0 + 999_999_123);
      await Promise.all(
        runs.map((run, i) =>
          store.runWriter.update({
            runId: run.runId,
            status: i % 2 ? 'SUCCEEDED' : 'FAILED',
            endedAt,
            result: i % 2 ? `ok ${i}` : null,
            error: i % 2 ? null : { name: 'Error', message: `boom ${i}`, stack: 'at x' },
            cpuMs: 12.5,
          }),
        ),
      );
      const counts = await store.runs.countByStatus(job.id);
      assert.equal(counts.SUCCEEDED, 1_250);
      assert.equal(counts.FAILED, 1_250);
      assert.equal(counts.QUEUED, 0);
      const failed = await store.runs.get(runs[0]!.runId);
      assert.deepEqual(failed?.error, { name: 'Error', message: 'boom 0', stack: 'at x' });
      assert.equal(failed?.endedAt?.getTime(), endedAt.getTime());
      assert.equal(failed?.scheduledAt.getTime(), T0);
      const ok = await store.runs.get(runs[1]!.runId);
      assert.equal(ok?.result, 'ok 1');
      assert.equal(ok?.cpuMs, 12.5);
      assert.equal(ok?.error, null);
    });

    test('3,000 runs written as a busy host writes them (insert, RUNNING, end, from 200 callers) all end as they should', async () => {
      const job = await seedJob(store, 'lanes');
      let next = 0;
      const ids: string[] = [];
      const lane = async (): Promise<void> => {
        while (next < 3_000) {
          const i = next++;
          const run = newRun(job, new Date(T0 + i));
          ids.push(run.runId);
          await store.runWriter.insert(run);
          void store.runWriter.update({ runId: run.runId, status: 'RUNNING', startedAt: new Date(T0 + i + 1) });
          // The end comes a moment later, often while the RUNNING update is being written.
          setImmediate(() => void store.runWriter.update({ runId: run.runId, status: i % 3 ? 'SUCCEEDED' : 'FAILED', endedAt: new Date(T0 + i + 2), result: `r${i}` }));
        }
      };
      await Promise.all(Array.from({ length: 200 }, lane));
      await new Promise((resolve) => setImmediate(resolve));
      await store.runWriter.flush();
      const counts = await store.runs.countByStatus(job.id);
      assert.deepEqual({ ok: counts.SUCCEEDED, failed: counts.FAILED, running: counts.RUNNING, queued: counts.QUEUED }, { ok: 2_000, failed: 1_000, running: 0, queued: 0 });
      for (const runId of ids.filter((_, k) => k % 500 === 0)) {
        const run = await store.runs.get(runId);
        assert.equal(run?.result?.startsWith('r'), true);
        assert.ok(run!.startedAt && run!.endedAt && run!.endedAt > run!.startedAt);
      }
    });

    test('a duplicate fire time is rejected alone while the rest of its batch commits', async () => {
      const job = await seedJob(store, 'dupes');
      const existing = newRun(job, new Date(T0 + 5_000));
      await store.runWriter.insert(existing);
      const batch = Array.from({ length: 50 }, (_, i) => newRun(job, new Date(T0 + i * 1_000)));
      const manual = newRun(job, new Date(T0 + 5_000), { trigger: 'MANUAL' });
      const results = await Promise.allSettled([...batch, manual].map((run) => store.runWriter.insert(run)));
      const rejected = results.flatMap((r, i) => (r.status === 'rejected' ? [{ i, reason: r.reason as { code?: string } }] : []));
      assert.deepEqual(rejected.map((r) => r.i), [5]);
      assert.equal(rejected[0]?.reason.code, 'DUPLICATE_FIRE');
      const page = await store.runs.list({ jobId: job.id, limit: 100 });
      // the earlier run, 49 of the batch and the MANUAL run at the same time (no fire key, no conflict)
      assert.equal(page.items.length, 51);
    });

    test('an insert and an update queued together are written as one row in its final state', async () => {
      const job = await seedJob(store, 'merged');
      const run = newRun(job, new Date(T0), { trigger: 'MANUAL' });
      const startedAt = new Date(T0 + 7);
      const done = Promise.all([
        store.runWriter.insert(run),
        store.runWriter.update({ runId: run.runId, status: 'RUNNING', startedAt }),
        store.runWriter.update({ runId: run.runId, status: 'SUCCEEDED', result: 'fine' }),
      ]);
      await done;
      const read = await store.runs.get(run.runId);
      assert.equal(read?.status, 'SUCCEEDED');
      assert.equal(read?.result, 'fine');
      assert.equal(read?.startedAt?.getTime(), startedAt.getTime());
    });

    test('text with quotes, backslashes, NUL, question marks and non-ASCII is written and read back exactly', async () => {
      const job = await seedJob(store, 'literals');
      const awkward = ["it's", 'a \\ b \\\\ c', 'nul \0 here', 'what? ?? ?', "'; DROP TABLE runs; --", 'line\nbreak\ttab\r', 'ünï 任务 🚀', '"double"', '\\'];
      const runs = awkward.map((text, i) => newRun(job, new Date(T0 + i), { host: text, logFile: text }));
      await Promise.all(runs.map((run) => store.runWriter.insert(run)));
      // Updates of two shapes in one batch: the result alone, and the result with an error whose text is JSON.
      await Promise.all(
        runs.map((run, i) =>
          store.runWriter.update(
            i % 2
              ? { runId: run.runId, status: 'SUCCEEDED', result: awkward[i]! }
              : { runId: run.runId, status: 'FAILED', result: awkward[i]!, error: { name: 'Error', message: awkward[i]! } },
          ),
        ),
      );
      await store.runWriter.flush();
      for (const [i, run] of runs.entries()) {
        const read = await store.runs.get(run.runId);
        assert.equal(read?.host, awkward[i], `host ${i}`);
        assert.equal(read?.logFile, awkward[i], `logFile ${i}`);
        assert.equal(read?.result, awkward[i], `result ${i}`);
        assert.deepEqual(read?.error, i % 2 ? null : { name: 'Error', message: awkward[i] }, `error ${i}`);
      }
    });

    test('runs are listed newest first, page by page, with every filter', async () => {
      const job = await seedJob(store, 'listed');
      const other = await seedJob(store, 'listed-other');
      const runs: RunRecord[] = [];
      for (let i = 0; i < 25; i++) {
        // Pairs share a scheduledAt so the runId tie-break is exercised.
        runs.push(newRun(job, new Date(T0 + Math.floor(i / 2) * 1_000 + 1), { status: i % 3 === 0 ? 'FAILED' : 'SUCCEEDED', trigger: 'MANUAL' }));
      }
      runs.push(newRun(other, new Date(T0)));
      await Promise.all(runs.map((run) => store.runWriter.insert(run)));
      const seen: RunRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.runs.list({ jobId: job.id, limit: 4, cursor });
        seen.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      const expected = runs
        .filter((r) => r.jobId === job.id)
        .sort((a, b) => b.scheduledAt.getTime() - a.scheduledAt.getTime() || (a.runId > b.runId ? -1 : 1));
      assert.deepEqual(seen.map((r) => r.runId), expected.map((r) => r.runId));
      // Several statuses are read one index range each and merged: the pages are the same.
      const merged: RunRecord[] = [];
      cursor = undefined;
      do {
        const page = await store.runs.list({ projectIds: [job.projectId], status: ['FAILED', 'SUCCEEDED'], trigger: ['MANUAL', 'RETRY'], limit: 4, cursor });
        merged.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(merged.map((r) => r.runId), expected.map((r) => r.runId));
      const failed = await store.runs.list({ jobId: job.id, status: ['FAILED'], limit: 100 });
      assert.equal(failed.items.length, 9);
      const window = await store.runs.list({ projectIds: [job.projectId], from: new Date(T0 + 3_001), to: new Date(T0 + 5_001), limit: 100 });
      assert.deepEqual(window.items.map((r) => r.scheduledAt.getTime()), [T0 + 4_001, T0 + 4_001, T0 + 3_001, T0 + 3_001]);
      const both = await store.runs.list({ projectIds: [job.projectId, other.projectId], limit: 100 });
      assert.equal(both.items.length, 26);
      assert.equal(both.nextCursor, null);
      await assert.rejects(store.runs.list({ limit: 1, cursor: 'nonsense' }), { code: 'BAD_REQUEST' });
    });

    test('a page of 1,000 jobs is summarised (their latest runs in one statement, an IN list of 1,000 ids)', async () => {
      const ids = Array.from({ length: 1_000 }, (_, i) => 50_000 + i);
      await Promise.all(ids.map((id) => store.runWriter.insert(newRun({ id, projectId: 1 }, new Date(T0 + id)))));
      const summaries = await store.runs.summarize(ids, new Date(T0 + 10_000_000));
      assert.equal(summaries.size, 1_000);
      assert.ok(ids.every((id) => summaries.get(id)?.lastRun?.scheduledAt.getTime() === T0 + id));
    });

    test('the last scheduled fire time of each job comes from its SCHEDULE and RECOVERY runs only', async () => {
      const a = await seedJob(store, 'fires-a');
      const b = await seedJob(store, 'fires-b');
      const c = await seedJob(store, 'fires-c');
      await Promise.all([
        store.runWriter.insert(newRun(a, new Date(T0 + 1_001))),
        store.runWriter.insert(newRun(a, new Date(T0 + 2_002))),
        store.runWriter.insert(newRun(a, new Date(T0 + 9_999), { trigger: 'MANUAL' })),
        store.runWriter.insert(newRun(b, new Date(T0 + 3_003), { trigger: 'RECOVERY' })),
        store.runWriter.insert(newRun(c, new Date(T0 + 4_004), { trigger: 'RETRY' })),
      ]);
      const fires = await store.runs.lastScheduledFireTimes([a.id, b.id, c.id]);
      assert.deepEqual(
        [...fires.entries()].sort((x, y) => x[0] - y[0]).map(([id, at]) => [id, at.getTime()]),
        [[a.id, T0 + 2_002], [b.id, T0 + 3_003]],
      );
      assert.equal((await store.runs.lastScheduledFireTimes([])).size, 0);
    });

    test('the run summary of each job counts its runs by status and picks its latest run: a retry over its try, nothing not yet due', async () => {
      const a = await seedJob(store, 'summary-a');
      const b = await seedJob(store, 'summary-b');
      const none = await seedJob(store, 'summary-none');
      const now = new Date(T0 + 60_000);
      const tried = newRun(a, new Date(T0 + 2_000), { status: 'FAILED', startedAt: new Date(T0 + 2_010), endedAt: new Date(T0 + 2_020) });
      const retried = newRun(a, new Date(T0 + 2_000), { trigger: 'RETRY', attempt: 2, status: 'SUCCEEDED', startedAt: new Date(T0 + 3_010), endedAt: new Date(T0 + 3_020) });
      await Promise.all([
        store.runWriter.insert(newRun(a, new Date(T0 + 1_000), { status: 'SUCCEEDED' })),
        store.runWriter.insert(retried),
        store.runWriter.insert(tried),
        // Written ahead for a fire whose time has not come: neither counted nor the latest.
        store.runWriter.insert(newRun(a, new Date(now.getTime() + 500))),
        store.runWriter.insert(newRun(b, new Date(T0 + 5_000), { trigger: 'MANUAL', status: 'RUNNING', startedAt: new Date(T0 + 5_001) })),
      ]);
      const summaries = await store.runs.summarize([a.id, b.id, none.id], now);
      assert.deepEqual(summaries.get(a.id), {
        runCounts: { SUCCEEDED: 2, FAILED: 1 },
        lastRun: { runId: retried.runId, status: 'SUCCEEDED', scheduledAt: retried.scheduledAt, startedAt: retried.startedAt, endedAt: retried.endedAt },
      });
      assert.deepEqual(summaries.get(b.id)?.runCounts, { RUNNING: 1 });
      assert.equal(summaries.get(b.id)?.lastRun?.endedAt, null);
      assert.equal(summaries.has(none.id), false);
      assert.equal((await store.runs.summarize([], now)).size, 0);
    });

    test('runs are found by status for recovery', async () => {
      const job: JobRecord = await seedJob(store, 'recovery');
      const running = newRun(job, new Date(T0), { status: 'RUNNING', trigger: 'MANUAL' });
      await store.runWriter.insert(running);
      const found = await store.runs.findByStatus(['RUNNING']);
      assert.ok(found.some((r) => r.runId === running.runId));
      await store.runWriter.update({ runId: running.runId, status: 'INTERRUPTED', endedAt: new Date() });
      assert.ok(!(await store.runs.findByStatus(['RUNNING', 'QUEUED'])).some((r) => r.runId === running.runId));
      assert.deepEqual(await store.runs.findByStatus([]), []);
    });

    test('20,000 runs inserted then updated through the writer (throughput, reported not asserted)', async (t) => {
      const job = await seedJob(store, 'throughput');
      const runs = Array.from({ length: 20_000 }, (_, i) => newRun(job, new Date(T0 + i)));
      const started = performance.now();
      await Promise.all(runs.map((run) => store.runWriter.insert(run)));
      const inserted = performance.now();
      await Promise.all(runs.map((run) => store.runWriter.update({ runId: run.runId, status: 'SUCCEEDED', endedAt: new Date(), result: 'ok' })));
      const updated = performance.now();
      const perSecond = (n: number, ms: number) => Math.round((n * 1000) / ms);
      t.diagnostic(
        `${database.name}: insert ${perSecond(20_000, inserted - started)} rows/s, update ${perSecond(20_000, updated - inserted)} rows/s, ` +
          `insert+update ${perSecond(20_000, updated - started)} runs/s (${Math.round(updated - started)} ms)`,
      );
      assert.equal((await store.runs.countByStatus(job.id)).SUCCEEDED, 20_000);
    });
  });
}
