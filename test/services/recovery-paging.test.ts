import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Dispatcher } from '../../host/dispatch/dispatcher.js';
import type { FireRequest } from '../../host/dispatch/types.js';
import { silentLogger } from '../../host/log/logger.js';
import { Engine } from '../../host/services/engine.js';
import { recover } from '../../host/services/recovery.js';
import { createStore } from '../../host/store/index.js';
import type { JobRecord } from '../../host/domain/index.js';
import type { Store } from '../../host/store/types.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { newJob, seedJob } from '../store/builders.js';

interface Plan {
  fires: { job: JobRecord; fireAt: Date }[];
  current: (jobId: number) => JobRecord | undefined;
}

/** Stands in for dispatch: records what the engine hands it. */
function fakeDispatcher() {
  const fired: FireRequest[] = [];
  const plans: Plan[] = [];
  const dispatcher = {
    fire: async (request: FireRequest) => {
      fired.push(request);
      return { runId: `run-${fired.length}`, status: 'RUNNING' as const };
    },
    plan: (fires: Plan['fires'], current: Plan['current']) => {
      if (fires.length > 0) plans.push({ fires, current });
    },
    unplan: () => {},
    launched: async () => {},
  };
  return { dispatcher: dispatcher as unknown as Dispatcher, fired, plans };
}

const EVERY_SECOND = { type: 'CRON', cron: '* * * * * *' } as const;

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const database of testDatabases()) {
  describe(`start-up and fires of many jobs on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    let store: Store;
    let projectId: number;

    before(async () => {
      made = await database.make();
      store = await createStore(made.db, silentLogger);
      projectId = (await seedJob(store)).projectId;
    });
    after(async () => {
      await store?.close();
      await made?.drop();
    });

    test('a start-up that reads the jobs page by page schedules every one, stops the finished ones and catches up missed fires', async (t) => {
      const now = new Date();
      const ids: number[] = [];
      for (let i = 0; i < 7; i++) {
        const cron = { type: 'CRON', cron: `${i} * * * * *` } as const;
        ids.push((await store.jobs.create(newJob(projectId, `paged-${i}`, { state: i % 2 ? 'PENDING' : 'ACTIVE', schedule: cron, misfire: 'skip' }))).id);
      }
      const manual = await store.jobs.create(newJob(projectId, 'paged-manual', { state: 'ACTIVE', schedule: { type: 'MANUAL' } }));
      const ended = await store.jobs.create(
        newJob(projectId, 'paged-ended', { state: 'ACTIVE', schedule: { ...EVERY_SECOND, endAt: new Date(now.getTime() - 60_000).toISOString() } }),
      );
      await store.jobs.create(newJob(projectId, 'paged-stopped', { state: 'STOPPED' }));
      const missed = await store.jobs.create(
        newJob(projectId, 'paged-missed', { state: 'ACTIVE', misfire: 'fireOnce', anchorAt: new Date(now.getTime() - 12_000) }),
      );
      const { dispatcher, fired } = fakeDispatcher();
      const engine = new Engine({ store, dispatcher, logger: silentLogger });
      t.after(() => engine.stop());

      const report = await recover({ store, engine, logs: { recover: async () => new Map() }, logger: silentLogger, pageSize: 3 }, now);

      assert.equal(report.rescheduled, 8);
      assert.equal(report.stopped, 2);
      assert.equal(engine.scheduler.size, 8);
      for (const id of [...ids, missed.id]) assert.ok(engine.nextFireOf(id), `job ${id} is on the schedule`);
      assert.equal((await store.jobs.get(manual.id))?.state, 'STOPPED');
      assert.equal((await store.jobs.get(ended.id))?.state, 'STOPPED');
      // One catch-up for the missed INTERVAL fires, started from the job's whole record.
      assert.equal(report.catchUpRuns, 1);
      assert.deepEqual(fired[0]?.job, await store.jobs.get(missed.id));
      for (const id of ids) await store.jobs.update(id, { state: 'STOPPED' });
      await store.jobs.update(missed.id, { state: 'STOPPED' });
    });

    test('a job whose record is not in memory at its fire is loaded with its stored definition and launches with that object', async (t) => {
      const { dispatcher, plans } = fakeDispatcher();
      const engine = new Engine({ store, dispatcher, logger: silentLogger, cachedJobs: 1 });
      t.after(() => engine.stop());
      const a = await store.jobs.create(newJob(projectId, 'evicted-a', { state: 'ACTIVE', schedule: EVERY_SECOND }));
      const b = await store.jobs.create(newJob(projectId, 'evicted-b', { state: 'ACTIVE', schedule: EVERY_SECOND }));
      engine.schedule(a);
      engine.schedule(b);
      // Changed in the database after its record left memory (b took the only cache slot).
      const stored = await store.jobs.update(a.id, { timeoutMs: 7_000 });
      engine.start();
      const plan = await waitFor('a plan with job a', () => plans.find((p) => p.fires.some((f) => f.job.id === a.id)));
      const planned = plan.fires.find((f) => f.job.id === a.id)!.job;
      assert.equal(planned.timeoutMs, 7_000);
      assert.deepEqual(planned, stored);
      assert.equal(plan.current(a.id), planned);
      assert.equal(plan.current(b.id), b);

      const changed = await engine.updateJob(b, { timeoutMs: 8_000 }, 'test');
      assert.equal(plan.current(b.id), changed);
      engine.forget(a.id);
      assert.equal(plan.current(a.id), undefined);
      engine.forget(b.id);
    });
  });
}
