import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { createStore } from '../../host/store/index.js';
import type { JobRecord } from '../../host/domain/index.js';
import type { Store } from '../../host/store/types.js';
import { testDatabases } from '../helpers/db.js';
import type { MadeDatabase } from '../helpers/db.js';
import { newJob, newRun, seedJob } from './builders.js';

for (const database of testDatabases()) {
  describe(`job cache on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    let store: Store;
    let job: JobRecord;

    before(async () => {
      made = await database.make();
      store = await createStore(made.db, silentLogger);
      job = await seedJob(store);
    });
    after(async () => {
      await store?.close();
      await made?.drop();
    });

    test('structured values come back as they went in: Map, Set, Date, nested objects, binary', async () => {
      const value = {
        seen: new Map<string, number>([['a', 1], ['b', 2]]),
        tags: new Set(['x', 'y']),
        at: new Date('2025-02-03T04:05:06.789Z'),
        nested: { list: [1, 'two', { three: 3n }], empty: null },
        bytes: new Uint8Array([1, 2, 255]),
      };
      await store.cache.set(job.id, 'state', value);
      assert.deepEqual(await store.cache.get(job.id, 'state'), value);
      await store.cache.set(job.id, 'state', 'replaced');
      assert.equal(await store.cache.get(job.id, 'state'), 'replaced');
    });

    test('a missing key reads as undefined and a deleted key is gone', async () => {
      assert.equal(await store.cache.get(job.id, 'never'), undefined);
      await store.cache.set(job.id, 'gone', 42);
      await store.cache.delete(job.id, 'gone');
      assert.equal(await store.cache.get(job.id, 'gone'), undefined);
    });

    test('an entry past its ttl reads as undefined, and one set again without ttl lives on', async (t) => {
      // Expiry is measured with Date: a mocked one makes "past its ttl" exact, however long the statements take.
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      await store.cache.set(job.id, 'short', 'soon gone', 300);
      await store.cache.set(job.id, 'long', 'stays', 60_000);
      t.mock.timers.tick(290);
      assert.equal(await store.cache.get(job.id, 'short'), 'soon gone');
      t.mock.timers.tick(20);
      assert.equal(await store.cache.get(job.id, 'short'), undefined);
      assert.equal(await store.cache.get(job.id, 'long'), 'stays');
      await store.cache.set(job.id, 'short', 'back');
      assert.equal(await store.cache.get(job.id, 'short'), 'back');
    });

    test('values that structured clone refuses and keys that are too long are rejected', async () => {
      await assert.rejects(store.cache.set(job.id, 'fn', { f: () => 1 }));
      await assert.rejects(store.cache.set(job.id, 'k'.repeat(256), 1), { code: 'BAD_REQUEST' });
    });

    test('many concurrent writes of different kinds all succeed', async () => {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 100; i++) {
        writes.push(store.cache.set(job.id, `c${i}`, i));
        writes.push(store.events.add({ jobId: job.id, projectId: job.projectId, action: 'triggered', actor: 'system', details: { i } }));
        writes.push(store.runWriter.insert(newRun(job, new Date(i), { trigger: 'MANUAL' })));
        writes.push(store.jobs.update(job.id, { maxQueue: i }));
      }
      await Promise.all(writes);
      assert.equal(await store.cache.get(job.id, 'c99'), 99);
    });

    test('keys are per job', async () => {
      const other = await store.jobs.create(newJob(job.projectId, 'other job'));
      await store.cache.set(job.id, 'shared-name', 'mine');
      assert.equal(await store.cache.get(other.id, 'shared-name'), undefined);
    });
  });
}
