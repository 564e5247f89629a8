/**
 * A manual fire is prepared (code resolved, worker or context taken) while its row is committed: the job must still
 * start only after the commit, and a run whose row cannot be written must not run at all and must hold nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JobRecord, RunRecord } from '../../host/domain/index.js';
import { sleep, startHost, type TestHost } from '../helpers/host.js';
import { threadBundle } from '../helpers/zip.js';

/** `stamp` notes when it ran, and which runs ran, in its job's cache. */
const CODE = `
export const stamp = {
  async execute(ctx) {
    await ctx.cache.set('ran', Date.now());
    await ctx.cache.set('ran-by', [...((await ctx.cache.get('ran-by')) ?? []), ctx.runId]);
    return String(Date.now());
  },
};
`;

describe('manual fire', () => {
  let th: TestHost;
  let job: JobRecord;

  before(async () => {
    th = await startHost();
    const projectId = (await th.api.post('/api/v1/projects', { name: 'manual-fire' })).body.id;
    assert.equal((await th.api.upload(projectId, await threadBundle(CODE))).status, 201);
    const made = await th.api.post('/api/v1/jobs', { projectId, name: 'stamp', kind: 'thread', entry: 'stamp', schedule: { type: 'MANUAL' } });
    assert.equal(made.status, 201, made.text);
    job = (await th.host.parts.store.jobs.get(made.body.id))!;
  });

  after(async () => {
    await th?.stop();
  });

  /** Holds each row insert for `holdMs`, or fails it, and restores the writer afterwards. */
  async function withInsert<T>(insert: (row: RunRecord, real: (row: RunRecord) => Promise<void>) => Promise<void>, body: () => Promise<T>): Promise<T> {
    const writer = th.host.parts.store.runWriter;
    const real = writer.insert.bind(writer);
    writer.insert = (row) => insert(row, real);
    try {
      return await body();
    } finally {
      writer.insert = real;
    }
  }

  test('the job starts only once its row is committed, although it was prepared during the commit', async () => {
    const { dispatcher, store } = th.host.parts;
    let committedAt = 0;
    const fired = await withInsert(
      async (row, real) => {
        await sleep(300);
        await real(row);
        committedAt = Date.now();
      },
      () => dispatcher.fire({ job, trigger: 'MANUAL', scheduledAt: new Date() }),
    );
    assert.ok(fired);
    await dispatcher.ended(fired.runId);
    await store.runWriter.flush();
    const run = (await store.runs.get(fired.runId))!;
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
    assert.ok(Number(run.result) >= committedAt, `the job ran at ${run.result}, before its row was committed at ${committedAt}`);
  });

  test('a run whose row cannot be written never runs, and the job can run again at once', async () => {
    const { dispatcher, store } = th.host.parts;
    await store.cache.delete(job.id, 'ran');
    await store.cache.delete(job.id, 'ran-by');
    const fired = await withInsert(
      async () => {
        await sleep(100);
        throw new Error('disk full');
      },
      () => dispatcher.fire({ job, trigger: 'MANUAL', scheduledAt: new Date() }),
    );
    assert.equal(fired, null);
    assert.equal(dispatcher.activeCount, 0);
    // fire() answers null once the prepared run is called off, which waits for what its executor did.
    assert.equal(await store.cache.get(job.id, 'ran'), undefined, 'the run whose row failed ran before fire() answered');
    const again = await dispatcher.fire({ job, trigger: 'MANUAL', scheduledAt: new Date() });
    assert.ok(again);
    await dispatcher.ended(again.runId);
    assert.equal(typeof (await store.cache.get(job.id, 'ran')), 'number');
    // A failed run let go on its own would have started before this one was even recorded, on a worker it had ready.
    assert.deepEqual(await store.cache.get(job.id, 'ran-by'), [again.runId], 'the run whose row failed ran anyway');
  });
});
