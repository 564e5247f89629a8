import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { createStore } from '../../host/store/index.js';
import type { Store } from '../../host/store/types.js';
import { testDatabases } from '../helpers/db.js';
import type { MadeDatabase } from '../helpers/db.js';
import { newJob, newRun, seedJob } from './builders.js';

/** Open handles and timers of this process, sorted, without the terminal. */
function resources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').sort();
}

/** Whether `now` holds no resource beyond those of `before` (some of before's may have closed since). */
function within(now: string[], before: string[]): boolean {
  const rest = [...before];
  return now.every((r) => {
    const at = rest.indexOf(r);
    if (at >= 0) rest.splice(at, 1);
    return at >= 0;
  });
}

for (const database of testDatabases()) {
  describe(`store repositories on ${database.name}`, { skip: database.skip }, () => {
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

    test('the store reports the capabilities of its dialect', () => {
      assert.equal(store.capabilities.dialect, database.name);
      assert.equal(store.capabilities.serialisedWrites, database.name === 'sqlite');
    });

    test('users are created, found, updated and counted, and usernames are unique', async () => {
      const alice = await store.users.create({ username: 'alice', passwordHash: 'h1', role: 'admin', disabled: false });
      assert.equal(alice.username, 'alice');
      assert.equal(alice.lastLoginAt, null);
      assert.ok(alice.createdAt instanceof Date);
      assert.deepEqual(await store.users.get(alice.id), alice);
      assert.deepEqual(await store.users.findByUsername('alice'), alice);
      assert.equal(await store.users.findByUsername('Alice'), null, 'usernames compare case-sensitively on both dialects');
      const loginAt = new Date('2025-03-04T05:06:07.891Z');
      const updated = await store.users.update(alice.id, { role: 'viewer', disabled: true, lastLoginAt: loginAt });
      assert.equal(updated?.role, 'viewer');
      assert.equal(updated?.disabled, true);
      assert.equal(updated?.lastLoginAt?.getTime(), loginAt.getTime());
      await assert.rejects(
        store.users.create({ username: 'alice', passwordHash: 'h2', role: 'viewer', disabled: false }),
        { code: 'CONFLICT' },
      );
      assert.ok((await store.users.count()) >= 1);
      assert.ok((await store.users.list()).some((u) => u.id === alice.id));
      assert.equal(await store.users.update(999_999, { role: 'admin' }), null);
    });

    test('tokens are found by hash, listed per user, touched and deleted only by their owner', async () => {
      const bob = await store.users.create({ username: 'bob', passwordHash: 'h', role: 'developer', disabled: false });
      const expiresAt = new Date(Date.now() + 60_000);
      const token = await store.tokens.create({ userId: bob.id, name: 'ci', tokenHash: 'a'.repeat(64), kind: 'api', expiresAt });
      assert.equal((await store.tokens.findByHash('a'.repeat(64)))?.id, token.id);
      assert.equal((await store.tokens.findByHash('a'.repeat(64)))?.expiresAt?.getTime(), expiresAt.getTime());
      assert.deepEqual((await store.tokens.listForUser(bob.id)).map((t) => t.name), ['ci']);
      const usedAt = new Date('2025-01-01T00:00:00.123Z');
      await store.tokens.touch(token.id, usedAt);
      assert.equal((await store.tokens.findByHash('a'.repeat(64)))?.lastUsedAt?.getTime(), usedAt.getTime());
      assert.equal(await store.tokens.delete(token.id, bob.id + 1000), false);
      assert.equal(await store.tokens.delete(token.id, bob.id), true);
      assert.equal(await store.tokens.findByHash('a'.repeat(64)), null);
    });

    test('projects are created, listed per owner, renamed, and names are unique', async () => {
      const carol = await store.users.create({ username: 'carol', passwordHash: 'h', role: 'developer', disabled: false });
      const project = await store.projects.create({ name: 'reports', description: 'daily', ownerId: carol.id });
      assert.equal(project.currentBundleId, null);
      assert.deepEqual(await store.projects.findByName('reports'), project);
      assert.deepEqual((await store.projects.list(carol.id)).map((p) => p.name), ['reports']);
      assert.ok((await store.projects.list()).length >= 1);
      const renamed = await store.projects.update(project.id, { name: 'reports2', description: 'weekly' });
      assert.equal(renamed?.name, 'reports2');
      assert.equal(renamed?.description, 'weekly');
      await store.projects.create({ name: 'other', description: '', ownerId: carol.id });
      await assert.rejects(store.projects.update(project.id, { name: 'other' }), { code: 'CONFLICT' });
      await assert.rejects(store.projects.create({ name: 'other', description: '', ownerId: carol.id }), { code: 'CONFLICT' });
    });

    test('bundles get the next version of their project and keep manifest and exports as objects', async () => {
      const owner = await store.users.create({ username: 'dave', passwordHash: 'h', role: 'developer', disabled: false });
      const project = await store.projects.create({ name: 'bundled', description: '', ownerId: owner.id });
      const base = {
        projectId: project.id,
        sha256: 'f'.repeat(64),
        size: 5_000_000_000,
        manifest: { name: 'bundled', version: '1.0.0', main: 'dist/index.js', kind: 'thread' as const },
        exports: [{ name: 'hello', type: 'job' as const }, { name: 'fanout', type: 'resolver' as const }],
        dir: '/data/bundles/x',
        createdBy: owner.id,
      };
      const first = await store.bundles.create(base);
      const second = await store.bundles.create({ ...base, dir: '/data/bundles/y' });
      assert.deepEqual([first.version, second.version], [1, 2]);
      const read = await store.bundles.get(first.id);
      assert.deepEqual(read?.manifest, base.manifest);
      assert.deepEqual(read?.exports, base.exports);
      assert.equal(read?.size, 5_000_000_000);
      assert.deepEqual((await store.bundles.listForProject(project.id)).map((b) => b.version), [2, 1]);
      await store.bundles.delete(first.id);
      assert.equal(await store.bundles.get(first.id), null);
      const updated = await store.projects.update(project.id, { currentBundleId: second.id });
      assert.equal(updated?.currentBundleId, second.id);
    });

    test('jobs round-trip their JSON columns, filter by project, resolver and state, and names are unique per project', async () => {
      const owner = await store.users.create({ username: 'erin', passwordHash: 'h', role: 'developer', disabled: false });
      const project = await store.projects.create({ name: 'jobs', description: '', ownerId: owner.id });
      const anchorAt = new Date('2025-06-01T00:00:00.250Z');
      const exec = await store.jobs.create(
        newJob(project.id, 'exec', {
          kind: 'exec',
          entry: ['python3', '-c', 'print(1)'],
          params: 'just a string',
          schedule: { type: 'CRON', cron: '*/5 * * * * *', timezone: 'Asia/Shanghai' },
          state: 'ACTIVE',
          anchorAt,
          timeoutMs: 30_000,
          shell: true,
        }),
      );
      const thread = await store.jobs.create(newJob(project.id, 'thread', { resolverId: exec.id }));
      assert.deepEqual(exec.entry, ['python3', '-c', 'print(1)']);
      assert.equal(exec.params, 'just a string');
      assert.equal(thread.entry, 'main');
      assert.deepEqual(thread.params, { n: 1, nested: { list: [1, 'two'] } });
      assert.deepEqual(thread.config, { region: 'eu' });
      assert.deepEqual(await store.jobs.get(exec.id), exec);
      assert.equal(exec.anchorAt?.getTime(), anchorAt.getTime());
      assert.equal(exec.shell, true);
      assert.deepEqual((await store.jobs.findByName(project.id, 'thread'))?.id, thread.id);
      assert.deepEqual((await store.jobs.list({ projectIds: [project.id], states: ['ACTIVE'] })).map((j) => j.name), ['exec']);
      assert.deepEqual((await store.jobs.list({ resolverId: exec.id })).map((j) => j.name), ['thread']);
      assert.deepEqual((await store.jobs.list({ projectIds: [project.id], resolverId: null })).map((j) => j.name), ['exec']);
      assert.deepEqual(await store.jobs.list({ projectIds: [] }), []);
      const changed = await store.jobs.update(thread.id, { state: 'PENDING', schedule: { type: 'MANUAL' }, params: null });
      assert.deepEqual(changed?.schedule, { type: 'MANUAL' });
      assert.equal(changed?.params, null);
      assert.ok((changed?.updatedAt.getTime() ?? 0) >= thread.updatedAt.getTime());
      await assert.rejects(store.jobs.create(newJob(project.id, 'exec')), { code: 'CONFLICT' });
      assert.equal(await store.jobs.countForBundleProject(project.id), 2);
      await store.jobs.delete(thread.id);
      assert.equal(await store.jobs.get(thread.id), null);
    });

    test('events are listed newest first with their details', async () => {
      const job = await seedJob(store, 'events');
      await store.events.add({ jobId: job.id, projectId: job.projectId, action: 'created', actor: 'alice', details: null, at: new Date(1_000) });
      await store.events.add({ jobId: job.id, projectId: job.projectId, action: 'updated', actor: 'alice', details: { fields: ['schedule'] } });
      const events = await store.events.list({ jobId: job.id, limit: 10 });
      assert.deepEqual(events.map((e) => e.action), ['updated', 'created']);
      assert.deepEqual(events[0]?.details, { fields: ['schedule'] });
      assert.equal(events[1]?.at.getTime(), 1_000);
      assert.equal((await store.events.list({ projectIds: [job.projectId], limit: 1 })).length, 1);
    });

    test('deleting a project removes its bundles, jobs, runs, events and cache and nothing of other projects', async () => {
      const doomed = await seedJob(store, 'doomed');
      const kept = await seedJob(store, 'kept');
      for (const job of [doomed, kept]) {
        await store.bundles.create({
          projectId: job.projectId, sha256: 'a'.repeat(64), size: 1, dir: '/x', createdBy: null,
          manifest: { name: 'x', version: '1.0.0', main: 'index.js', kind: 'thread' }, exports: [],
        });
        await store.runWriter.insert(newRun(job, new Date()));
        await store.events.add({ jobId: job.id, projectId: job.projectId, action: 'created', actor: 'system', details: null });
        await store.cache.set(job.id, 'k', 1);
      }
      await store.projects.delete(doomed.projectId);
      assert.equal(await store.projects.get(doomed.projectId), null);
      assert.equal(await store.jobs.get(doomed.id), null);
      assert.deepEqual(await store.bundles.listForProject(doomed.projectId), []);
      assert.deepEqual((await store.runs.list({ projectIds: [doomed.projectId], limit: 10 })).items, []);
      assert.deepEqual(await store.events.list({ projectIds: [doomed.projectId], limit: 10 }), []);
      assert.equal(await store.cache.get(doomed.id, 'k'), undefined);
      assert.equal((await store.runs.list({ projectIds: [kept.projectId], limit: 10 })).items.length, 1);
      assert.equal(await store.cache.get(kept.id, 'k'), 1);
      assert.equal((await store.bundles.listForProject(kept.projectId)).length, 1);
    });
  });

  describe(`store lifecycle on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    before(async () => {
      made = await database.make();
    });
    after(async () => {
      await made?.drop();
    });

    test('a second createStore on the same database keeps the data and migrates nothing twice', async () => {
      const first = await createStore(made.db, silentLogger);
      await first.users.create({ username: 'kept', passwordHash: 'h', role: 'admin', disabled: false });
      await first.close();
      const second = await createStore(made.db, silentLogger);
      try {
        assert.equal((await second.users.findByUsername('kept'))?.role, 'admin');
      } finally {
        await second.close();
      }
    });

    test('close() flushes queued run rows and leaves no handle open', async () => {
      const before = resources();
      const store = await createStore(made.db, silentLogger);
      const job = await seedJob(store, 'lifecycle');
      const run = newRun(job, new Date());
      const inserted = store.runWriter.insert(run);
      await store.close();
      await inserted;
      await store.close();
      const reopened = await createStore(made.db, silentLogger);
      try {
        assert.equal((await reopened.runs.get(run.runId))?.status, 'QUEUED');
      } finally {
        await reopened.close();
      }
      // Sockets finish closing a little after close() resolves: poll, bounded.
      let leftover = resources();
      for (let i = 0; i < 40 && !within(leftover, before); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        leftover = resources();
      }
      assert.ok(within(leftover, before), `left open: ${leftover.join(', ')}; before: ${before.join(', ')}`);
    });
  });
}
