/**
 * MissedFireCatchUp: fires the database did not record are run again under their job's misfire policy once it takes
 * rows; while nothing is noted it keeps no timer, so an idle host is not woken every second (docs/benchmarks.md,
 * idle CPU). A real MissedFires and real timers; the store and the engine are the few calls the catch-up makes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Dispatcher } from '../../host/dispatch/dispatcher.js';
import { MissedFires } from '../../host/dispatch/missed-fires.js';
import type { JobRecord } from '../../host/domain/index.js';
import { silentLogger } from '../../host/log/logger.js';
import { MissedFireCatchUp } from '../../host/services/catch-up.js';
import type { Engine } from '../../host/services/engine.js';
import type { Store } from '../../host/store/types.js';

test('the catch-up sleeps while nothing is noted, runs noted fires under their policy, then sleeps again', async (t) => {
  const missed = new MissedFires();
  const job = { id: 7, misfire: 'fireAll' } as JobRecord;
  const triggered: Date[] = [];
  const store = {
    health: { up: true, failed: () => false },
    runWriter: { lagMs: 0 },
    jobs: { getMany: async (ids: number[]) => (ids.includes(7) ? [job] : []) },
  } as unknown as Store;
  const engine = {
    isScheduled: (id: number) => id === 7,
    trigger: async (_job: JobRecord, _trigger: string, _by: string, opts: { scheduledAt: Date }) => void triggered.push(opts.scheduledAt),
  } as unknown as Engine;
  const intervals = t.mock.method(globalThis, 'setInterval');
  const cleared = t.mock.method(globalThis, 'clearInterval');
  const catchUp = new MissedFireCatchUp({ store, dispatcher: { missed } as unknown as Dispatcher, engine, logger: silentLogger });
  catchUp.start();
  t.after(() => catchUp.stop());
  assert.equal(intervals.mock.callCount(), 0, 'no timer while nothing is noted');

  const first = new Date('2026-01-01T00:00:00Z');
  const second = new Date('2026-01-01T00:00:01Z');
  missed.note(7, first);
  missed.note(7, second);
  missed.note(8, second);
  assert.equal(intervals.mock.callCount(), 1, 'the first noted fire arms one timer');

  const deadline = Date.now() + 5_000;
  while (triggered.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(triggered, [first, second], "fireAll runs each of the job's missed fires");
  assert.equal(missed.caughtUp, 2);
  assert.equal(missed.missed, 1, 'a job that left the schedule has its fire counted as missed');

  while (cleared.mock.callCount() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(cleared.mock.callCount(), 1, 'with nothing noted any more the timer goes');
  missed.note(7, first);
  assert.equal(intervals.mock.callCount(), 2, 'a fire noted later arms it again');
});
