import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { CachedTargets } from '../../host/services/targets.js';
import { createStore } from '../../host/store/index.js';
import type { BundleRecord, JobRecord } from '../../host/domain/index.js';
import type { Store } from '../../host/store/types.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { newJob, seedJob } from '../store/builders.js';

describe('run targets', () => {
  let made: MadeDatabase;
  let store: Store;
  let projectId: number;
  let job: JobRecord;

  const bundle = (dir: string): Promise<BundleRecord> =>
    store.bundles.create({ projectId, sha256: dir, size: 1, manifest: { name: 'p', version: '1.0.0', main: 'main.js', kind: 'thread' }, exports: [], dir, createdBy: null });

  before(async () => {
    made = await testDatabases()[0]!.make();
    store = await createStore(made.db, silentLogger);
    projectId = (await seedJob(store, 'targets')).projectId;
    job = await store.jobs.create(newJob(projectId, 'runner', { config: { region: 'eu' } }));
  });
  after(async () => {
    await store?.close();
    await made?.drop();
  });

  test('a project without a bundle cannot run a thread job; once it has one (and the cache is told), it can', async () => {
    const targets = new CachedTargets(store);
    await assert.rejects(targets.resolve(job), /project targets has no bundle/);
    const first = await bundle('/bundles/one');
    await store.projects.update(projectId, { currentBundleId: first.id });
    targets.invalidate(projectId);
    assert.equal((await targets.resolve(job)).bundle?.dir, '/bundles/one');
  });

  test('fires of one job record share one target until the project changes or the job does', async () => {
    const targets = new CachedTargets(store);
    const target = await targets.resolve(job);
    assert.deepEqual(target.config, { region: 'eu' });
    assert.equal(await targets.resolve(job), target, 'the same record resolves to the same target');

    // A new bundle: the cached target stands until the project's entry is invalidated, as an upload does.
    const second = await bundle('/bundles/two');
    await store.projects.update(projectId, { currentBundleId: second.id });
    assert.equal(await targets.resolve(job), target);
    targets.invalidate(projectId);
    const after = await targets.resolve(job);
    assert.equal(after.bundle?.dir, '/bundles/two');
    assert.deepEqual(after.config, { region: 'eu' });

    // A changed job is a new record: its target is made from it, whatever the old record resolves to.
    const changed = (await store.jobs.update(job.id, { config: { region: 'us' } }))!;
    assert.deepEqual((await targets.resolve(changed)).config, { region: 'us' });
    assert.deepEqual((await targets.resolve(job)).config, { region: 'eu' });
  });

  test("a sub-job's target is made on every run: its resolver's row is read each time", async () => {
    const targets = new CachedTargets(store);
    const resolver = await store.jobs.create(newJob(projectId, 'resolver', { config: { tier: 'gold' } }));
    const sub = await store.jobs.create(newJob(projectId, 'sub', { config: {}, resolverId: resolver.id }));
    assert.deepEqual((await targets.resolve(sub)).config, { tier: 'gold' });
    await store.jobs.update(resolver.id, { config: { tier: 'silver' } });
    assert.deepEqual((await targets.resolve(sub)).config, { tier: 'silver' });
  });
});
