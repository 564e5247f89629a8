import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createMemoryCache,
  createTestContext,
  defineJob,
  defineResolver,
  LocalTimeoutError,
  runLocal,
  type JobContext,
  type LocalRunError,
} from '@jobcenter/sdk';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Waits until the run is aborted, then rejects with the abort reason; bounded so a broken signal cannot hang. */
function waitForAbort(ctx: JobContext<unknown>, maxMs = 5000): Promise<never> {
  return new Promise((_, reject) => {
    const timer = setTimeout(() => reject(new Error('never aborted')), maxMs);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(ctx.signal.reason);
    }, { once: true });
  });
}

describe('runLocal', () => {
  test('it returns the job\'s result, its log lines and a UUID run id', async () => {
    const job = defineJob<{ name: string }>({
      execute(ctx) {
        ctx.log.info('hi %s, you are %d', ctx.params.name, 36, { extra: true });
        ctx.log.warn('careful');
        return `done for ${ctx.params.name} with ${ctx.config.mode}`;
      },
    });
    const run = await runLocal(job, { params: { name: 'Ada' }, config: { mode: 'fast' } });
    assert.equal(run.result, 'done for Ada with fast');
    assert.match(run.runId, UUID);
    assert.deepEqual(run.logs.map((l) => [l.level, l.message]), [
      ['info', 'hi Ada, you are 36 { extra: true }'],
      ['warn', 'careful'],
    ]);
    assert.ok(run.logs[0].at instanceof Date);
  });

  test('a job returning nothing has a null result and other values become JSON', async () => {
    assert.equal((await runLocal({ execute() {} })).result, null);
    const asObject = { execute: () => ({ rows: 3 }) } as unknown as Parameters<typeof runLocal>[0];
    assert.equal((await runLocal(asObject)).result, '{"rows":3}');
  });

  test('the run id, job name and params are passed through, and missing params are null', async () => {
    const seen: unknown[] = [];
    await runLocal({ execute: (ctx) => void seen.push(ctx.runId, ctx.job.name, ctx.params, ctx.attempt) }, { runId: 'r-1', jobName: 'j' });
    assert.deepEqual(seen, ['r-1', 'j', null, 1]);
  });

  test('a thrown error propagates with the run\'s logs and id attached', async () => {
    const job = defineJob({
      execute(ctx) {
        ctx.log.error('about to fail');
        throw new Error('boom');
      },
    });
    await assert.rejects(runLocal(job, { runId: 'r-2' }), (err: LocalRunError) => {
      assert.equal(err.message, 'boom');
      assert.equal(err.runId, 'r-2');
      assert.deepEqual(err.logs.map((l) => l.message), ['about to fail']);
      return true;
    });
  });

  test('a thrown non-error value is wrapped in an Error', async () => {
    await assert.rejects(runLocal({ execute: () => Promise.reject('plain string') }), (err: LocalRunError) => {
      assert.ok(err instanceof Error);
      assert.equal(err.message, 'plain string');
      assert.deepEqual(err.logs, []);
      return true;
    });
  });

  test('aborting the given signal aborts ctx.signal and a job honouring it rejects', async () => {
    const controller = new AbortController();
    const job = defineJob({
      execute(ctx) {
        setTimeout(() => controller.abort(new Error('killed by test')), 10);
        return waitForAbort(ctx);
      },
    });
    await assert.rejects(runLocal(job, { signal: controller.signal }), /killed by test/);
  });

  test('timeoutMs aborts ctx.signal and rejects with a TimeoutError', async () => {
    let signal: AbortSignal | undefined;
    const job = defineJob({
      execute(ctx) {
        signal = ctx.signal;
        return waitForAbort(ctx);
      },
    });
    await assert.rejects(runLocal(job, { timeoutMs: 20 }), (err: unknown) => {
      assert.ok(err instanceof LocalTimeoutError);
      assert.equal(err.code, 'TIMED_OUT');
      assert.equal(err.timeoutMs, 20);
      return true;
    });
    assert.equal(signal?.aborted, true);
  });

  test('a job that finishes before timeoutMs is not aborted', async () => {
    let signal: AbortSignal | undefined;
    const run = await runLocal({ execute: (ctx) => void (signal = ctx.signal) }, { timeoutMs: 1000 });
    assert.equal(run.result, null);
    assert.equal(signal?.aborted, false);
  });

  test('the same cache Map keeps values across runs', async () => {
    const cache = new Map<string, unknown>();
    const counter = defineJob({
      async execute(ctx) {
        const runs = ((await ctx.cache.get<number>('runs')) ?? 0) + 1;
        await ctx.cache.set('runs', runs);
        return `run ${runs}`;
      },
    });
    assert.equal((await runLocal(counter, { cache })).result, 'run 1');
    assert.equal((await runLocal(counter, { cache })).result, 'run 2');
    assert.equal(cache.get('runs'), 2);
  });

  test('it refuses something that is not a job', async () => {
    await assert.rejects(runLocal({} as never), TypeError);
  });
});

describe('createTestContext and the memory cache', () => {
  test('abort() aborts ctx.signal with the given reason, and config is frozen', () => {
    const { ctx, abort } = createTestContext({ config: { a: '1' } });
    assert.equal(ctx.signal.aborted, false);
    abort('shutdown');
    assert.equal(ctx.signal.aborted, true);
    assert.equal(ctx.signal.reason, 'shutdown');
    assert.ok(Object.isFrozen(ctx.config));
  });

  test('logged lines are captured and passed to onLog as they are written', () => {
    const seen: string[] = [];
    const { ctx, logs } = createTestContext({ onLog: (line) => seen.push(`${line.level}:${line.message}`) });
    ctx.log.debug('%s=%j', 'value', { a: 1 });
    ctx.log.trace('t');
    assert.deepEqual(seen, ['debug:value={"a":1}', 'trace:t']);
    assert.equal(logs.length, 2);
  });

  test('cached values are clones: changing them after set or get does not change the cache', async () => {
    const cache = createMemoryCache();
    const value = { list: [1, 2] };
    await cache.set('k', value);
    value.list.push(3);
    const first = await cache.get<{ list: number[] }>('k');
    assert.deepEqual(first, { list: [1, 2] });
    first?.list.push(4);
    assert.deepEqual(await cache.get('k'), { list: [1, 2] });
    await cache.delete('k');
    assert.equal(await cache.get('k'), undefined);
  });

  test('a value that cannot be structured-cloned is refused', async () => {
    const cache = createMemoryCache();
    await assert.rejects(cache.set('fn', () => 1), { name: 'DataCloneError' });
  });

  test('a value with a ttl disappears once the ttl has passed, and setting it again without ttl keeps it', async () => {
    let now = 1_000;
    const store = new Map<string, unknown>();
    const cache = createMemoryCache(store, () => now);
    await cache.set('token', 'abc', { ttlMs: 100 });
    now += 99;
    assert.equal(await cache.get('token'), 'abc');
    now += 1;
    assert.equal(await cache.get('token'), undefined);
    assert.equal(store.has('token'), false);
    await cache.set('token', 'def', { ttlMs: 10 });
    await cache.set('token', 'def');
    now += 1_000;
    assert.equal(await cache.get('token'), 'def');
  });

  test('a ttl set in one run still holds in the next run sharing the cache Map', async () => {
    let now = 0;
    const cache = new Map<string, unknown>();
    await runLocal({ execute: (ctx) => ctx.cache.set('k', 1, { ttlMs: 50 }) }, { cache, now: () => now });
    now = 60;
    const run = await runLocal({ execute: async (ctx) => String(await ctx.cache.get('k')) }, { cache, now: () => now });
    assert.equal(run.result, 'undefined');
  });

  test('a ttl that is not a positive number is refused', async () => {
    const cache = createMemoryCache();
    await assert.rejects(cache.set('k', 1, { ttlMs: 0 }), RangeError);
    await assert.rejects(cache.set('k', 1, { ttlMs: Number.NaN }), RangeError);
  });

  test('defineJob and defineResolver return their argument unchanged', () => {
    const job = { execute: () => 'x' };
    const resolver = { resolve: () => [] };
    assert.equal(defineJob(job), job);
    assert.equal(defineResolver(resolver), resolver);
  });
});
