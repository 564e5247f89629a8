/**
 * One suite, run against every executor kind: what a run of any kind must do, checked on the same jobs written in
 * each kind's own form (test/fixtures/conformance/<kind>/: a thread bundle, a module, an isolate script, an exec
 * shell script). A case a kind cannot support is skipped with the reason; tests of what only one kind does stay in
 * test/executors/<kind>/. A new kind adds its fixture folder and one row to `kinds`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { JobKind } from '../../host/domain/index.js';
import { createExecExecutor } from '../../host/executors/exec/exec-executor.js';
import { createIsolateExecutor } from '../../host/executors/isolate/isolate-executor.js';
import { createModuleExecutor } from '../../host/executors/module/module-executor.js';
import type { Executor, RunOutcome, RunRequest } from '../../host/executors/shared/executor.js';
import { createThreadExecutor } from '../../host/executors/thread/thread-executor.js';
import type { HostConfig } from '../../host/config/index.js';
import { silentLogger } from '../../host/log/logger.js';
import { measured, recordingHooks, testConfig, threadRequest, type RecordingHooks } from './helpers.js';

/** The jobs every fixture has (exec: the first argument of job.sh). */
type Job = 'result' | 'nothing' | 'fail' | 'cooperative' | 'stubborn' | 'log' | 'console' | 'config' | 'params' | 'context' | 'cache' | 'hog' | 'exit' | 'env';

/** What a case needs of a kind, and why a kind cannot give it. */
type Case = 'stack' | 'console' | 'cache' | 'exit' | 'memory';

interface Kind {
  readonly kind: JobKind;
  create(config: HostConfig): Executor;
  request(job: Job, overrides?: Partial<RunRequest>): RunRequest;
  /** Cases this kind cannot support, with the reason (the skip message); given the executor, as exec's depend on the machine. */
  cannot(executor: Executor): Partial<Record<Case, string>>;
  /** Whether the kind measures a run's peak memory (an exec command can be gone before its memory is read). */
  readonly measuresMemory: boolean;
}

function fixture(kind: JobKind): string {
  const near = fileURLToPath(new URL(`../fixtures/conformance/${kind}`, import.meta.url));
  return existsSync(near) ? near : fileURLToPath(new URL(`../../../test/fixtures/conformance/${kind}`, import.meta.url));
}

/** A bundle id per kind, so runs of the suite never share a pool, context or isolate with another test. */
const bundleOf = (kind: JobKind, main: string | null, id: number): RunRequest['bundle'] => ({ id, dir: fixture(kind), main });

const kinds: readonly Kind[] = [
  {
    kind: 'thread',
    create: (config) => createThreadExecutor({ config, logger: silentLogger }),
    request: (job, overrides) => threadRequest(job, { bundle: bundleOf('thread', 'index.js', 901), ...overrides }),
    cannot: () => ({}),
    measuresMemory: true,
  },
  {
    kind: 'module',
    create: (config) => createModuleExecutor({ config, logger: silentLogger }),
    request: (job, overrides) => threadRequest(job, { kind: 'module', bundle: bundleOf('module', 'index.mjs', 902), ...overrides }),
    cannot: () => ({}),
    measuresMemory: true,
  },
  {
    kind: 'isolate',
    create: (config) => createIsolateExecutor({ config, logger: silentLogger }),
    request: (job, overrides) => threadRequest(job, { kind: 'isolate', bundle: bundleOf('isolate', 'jobs.js', 903), ...overrides }),
    cannot: () => ({ exit: 'an isolate has no process to exit: `process` is not defined in it' }),
    measuresMemory: true,
  },
  {
    kind: 'exec',
    create: (config) => createExecExecutor({ config, logger: silentLogger }),
    request: (job, overrides) => threadRequest(job, { kind: 'exec', entry: ['./job.sh', job], bundle: bundleOf('exec', null, 904), ...overrides }),
    cannot: (executor) => {
      const { containment, limitsMemory } = executor as ReturnType<typeof createExecExecutor>;
      return {
        stack: 'an exec command fails with its exit code and its last stderr line: it has no stack or error code to cross',
        console: 'an exec command has no console: its stdout and stderr are its log lines (the case of the info and warning lines)',
        cache: 'an exec command gets no JobContext, so no cache (only its environment, params and config file)',
        ...(limitsMemory
          ? {}
          : { memory: `exec containment "${containment}" applies no memory limit on this machine: only a memory cgroup does (docs/isolation.md, "How exec runs are contained")` }),
      };
    },
    measuresMemory: false,
  },
];

/** Long enough that a job which honours its kill visibly ends before it, even on a loaded machine. */
const KILL_GRACE_MS = 1_000;

function failed(outcome: RunOutcome): Extract<RunOutcome, { ok: false }> {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome as Extract<RunOutcome, { ok: false }>;
}

function resultOf(outcome: RunOutcome): string | null {
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  return (outcome as { result: string | null }).result;
}

/** Aborts the run with `reason` once the job said it is waiting (so the abort finds it running, its traps set). */
async function abortWhenWaiting(hooks: RecordingHooks, reason: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (!hooks.lines.some((line) => line.message === 'waiting')) {
    if (Date.now() > deadline) throw new Error(`the job never said it was waiting: ${JSON.stringify(hooks.lines)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  hooks.controller.abort(reason);
  return Date.now();
}

for (const kind of kinds) {
  describe(`executor conformance: ${kind.kind}`, () => {
    let executor: Executor;
    let cannot: Partial<Record<Case, string>>;
    const hostPassword = process.env.JOBCENTER_ADMIN_PASSWORD;
    before(() => {
      process.env.JOBCENTER_ADMIN_PASSWORD = 'host-secret';
      executor = kind.create(testConfig({ killGraceMs: KILL_GRACE_MS }));
      cannot = kind.cannot(executor);
    });
    after(async () => {
      if (hostPassword === undefined) delete process.env.JOBCENTER_ADMIN_PASSWORD;
      else process.env.JOBCENTER_ADMIN_PASSWORD = hostPassword;
      await executor.close();
    });

    const run = (job: Job, overrides?: Partial<RunRequest>, hooks = recordingHooks()): Promise<RunOutcome> => executor.execute(kind.request(job, overrides), hooks);
    /** A case this kind cannot support is skipped with the reason: `cannot` is known once the executor exists. */
    const unless = (need: Case, body: () => Promise<void>) => async (t: { skip(message: string): void }) => {
      const why = cannot[need];
      if (why) t.skip(why);
      else await body();
    };

    test('a job that returns a string has it as its result, says when it started and has its CPU time measured', async () => {
      const hooks = recordingHooks();
      const outcome = await run('result', {}, hooks);
      assert.deepEqual(measured(outcome, kind.measuresMemory), { ok: true, result: 'the result' });
      assert.equal(typeof hooks.startedAt, 'number');
    });

    test('a job that returns nothing has a null result', async () => {
      assert.equal(resultOf(await run('nothing')), null);
    });

    test('a failing job fails its run, not aborted, with its message', async () => {
      const outcome = failed(await run('fail'));
      assert.equal(outcome.aborted, false);
      assert.match(outcome.error.message, /broken on purpose/);
    });

    test('a thrown error crosses with its name, stack and code', unless('stack', async () => {
      const { error } = failed(await run('fail'));
      assert.equal(error.name, 'TypeError');
      assert.equal(error.code, 'E_BROKEN');
      assert.match(error.stack ?? '', /broken on purpose[\s\S]*(index\.js|index\.mjs|jobs\.js)/);
    }));

    test('a killed job that honours its signal ends as aborted, with the reason of the kill', async () => {
      const hooks = recordingHooks();
      const running = run('cooperative', {}, hooks);
      const abortedAt = await abortWhenWaiting(hooks, 'killed by admin');
      const outcome = failed(await running);
      assert.equal(outcome.aborted, true);
      assert.match(outcome.error.message, /killed by admin/);
      assert.ok(Date.now() - abortedAt < KILL_GRACE_MS, `ended ${Date.now() - abortedAt} ms after the kill, before the grace`);
    });

    test('a job that ignores its timeout is ended after the kill grace, as aborted, and the next run works', async () => {
      const hooks = recordingHooks();
      const running = run('stubborn', { timeoutMs: 60_000 }, hooks);
      const abortedAt = await abortWhenWaiting(hooks, 'timeout');
      const outcome = failed(await running);
      const took = Date.now() - abortedAt;
      assert.equal(outcome.aborted, true);
      assert.ok(took >= KILL_GRACE_MS - 20 && took < KILL_GRACE_MS + 3_000, `ended ${took} ms after the timeout, the grace being ${KILL_GRACE_MS} ms`);
      assert.equal(resultOf(await run('result')), 'the result');
    });

    test('a run whose signal is already aborted does not start', async () => {
      const hooks = recordingHooks();
      hooks.controller.abort('shutdown');
      const outcome = failed(await run('result', {}, hooks));
      assert.equal(outcome.aborted, true);
      assert.equal(hooks.startedAt, null);
    });

    test('an info and a warning line reach the run log in order, at their levels', async () => {
      const hooks = recordingHooks();
      assert.equal(resultOf(await run('log', {}, hooks)), 'logged');
      const lines = hooks.lines.filter((line) => line.message.endsWith(' line'));
      assert.deepEqual(lines, [
        { level: 'info', message: 'an info line' },
        { level: 'warn', message: 'a warning line' },
      ]);
    });

    test("console lines reach the run log, console.error's as errors", unless('console', async () => {
      const hooks = recordingHooks();
      assert.equal(resultOf(await run('console', {}, hooks)), 'logged');
      assert.deepEqual(hooks.lines, [
        { level: 'info', message: 'from console 42' },
        { level: 'error', message: 'console error line' },
      ]);
    }));

    test("the job's config is injected", async () => {
      assert.equal(resultOf(await run('config', { config: { greeting: 'hello there' } })), 'hello there');
    });

    test("the run's params reach the job", async () => {
      const params = { name: 'Ada', n: 2, nested: { ok: true } };
      assert.deepEqual(JSON.parse(resultOf(await run('params', { params })) ?? 'null'), params);
    });

    test('the job knows its run, its job, its attempt and its scheduled time', async () => {
      const request = kind.request('context', { attempt: 2 });
      const { runId, job, scheduledAt } = request;
      const expected = `${runId} ${job.id} ${job.name} ${job.project} 2 ${scheduledAt.toISOString()}`;
      assert.equal(resultOf(await executor.execute(request, recordingHooks())), expected);
    });

    test("the host's secrets are not in the job's environment", async () => {
      assert.equal(resultOf(await run('env')), 'none');
    });

    test("the job's cache keeps a value from one run to the next, with its time to live, and deletes one", unless('cache', async () => {
      const cache = new Map<string, unknown>([['gone', 'x']]);
      const first = recordingHooks(cache);
      assert.equal(resultOf(await run('cache', {}, first)), '1');
      assert.deepEqual(first.cacheCalls, ['get count', 'set count 1000', 'delete gone']);
      assert.equal(cache.has('gone'), false);
      assert.equal(resultOf(await run('cache', {}, recordingHooks(cache))), '2');
      assert.equal(cache.get('count'), 2);
    }));

    test('a job over its memory limit fails, not aborted, naming the limit, and the next run works', unless('memory', async () => {
      // The suite's earlier runs booted a module context with the default limit: this one must still get 64 MB.
      const limited = { memoryLimitMb: 64 };
      const outcome = failed(await run('hog', limited));
      assert.equal(outcome.aborted, false);
      assert.match(outcome.error.message, /memory limit of 64 MB/);
      assert.equal(resultOf(await run('result', limited)), 'the result');
    }));

    test('a job that exits its process fails its run, not aborted, and the next run works', unless('exit', async () => {
      const outcome = failed(await run('exit'));
      assert.equal(outcome.aborted, false);
      assert.match(outcome.error.message, /exit(ed)? .*3|code 3|exit\(3\)/);
      assert.equal(resultOf(await run('result')), 'the result');
    }));
  });
}
