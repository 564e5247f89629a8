import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { RunOutcome, RunRequest } from '../../../host/executors/shared/executor.js';
import { createModuleExecutor, type ModuleExecutor } from '../../../host/executors/module/module-executor.js';
import { silentLogger, type Logger } from '../../../host/log/logger.js';
import { measured, recordingHooks, testConfig, threadRequest } from '../helpers.js';

/** Fixtures stay in the source tree; compiled tests run from dist/test/loader. */
function moduleFixture(name: string): string {
  const near = fileURLToPath(new URL(`../../fixtures/module/${name}`, import.meta.url));
  return existsSync(near) ? near : fileURLToPath(new URL(`../../../../test/fixtures/module/${name}`, import.meta.url));
}

function moduleRequest(entry: string, overrides: Partial<RunRequest> = {}, fixture = 'graph', bundleId = 1): RunRequest {
  return threadRequest(entry, { kind: 'module', bundle: { id: bundleId, dir: moduleFixture(fixture), main: 'index.mjs' }, params: null, ...overrides });
}

function resultOf(outcome: RunOutcome): Record<string, any> {
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  return JSON.parse((outcome as { result: string }).result);
}

function failed(outcome: RunOutcome): Extract<RunOutcome, { ok: false }> {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome as Extract<RunOutcome, { ok: false }>;
}

/** Lines of the fixture's lifecycle events file, per context id. */
function events(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: (m) => lines.push(m),
    info: (m) => lines.push(m),
    warn: (m) => lines.push(m),
    error: (m) => lines.push(m),
    child: () => logger,
  };
  return logger;
}

describe('module executor', () => {
  const eventsFile = path.join(tmpdir(), `jc-module-events-${process.pid}.txt`);
  const hostLines: string[] = [];
  let executor: ModuleExecutor;
  before(() => {
    process.env.JC_MODULE_EVENTS = eventsFile;
    executor = createModuleExecutor({ config: testConfig({ killGraceMs: 300 }), logger: recordingLogger(hostLines) });
  });
  after(async () => {
    await executor.close();
    delete process.env.JC_MODULE_EVENTS;
    rmSync(eventsFile, { force: true });
    assert.equal(executor.threadCount(), 0, 'no module worker left behind');
    assert.equal(executor.spares().waiting, 0, 'no spare worker left behind');
  });

  test('a job bean runs with its run context, its beans and the module config (application.properties + profile)', async () => {
    const hooks = recordingHooks();
    const request = moduleRequest('countRows');
    const result = resultOf(await executor.execute(request, hooks));
    assert.equal(result.count, 2);
    assert.equal(result.greeting, 'hello from the test profile');
    assert.deepEqual(hooks.lines, [
      { level: 'info', message: 'counting rows of people' },
      { level: 'info', message: `console line of run ${request.runId}` },
    ]);
    assert.equal(typeof hooks.startedAt, 'number');
    assert.ok(hostLines.includes('module started'), `lifecycle log reaches the host log: ${hostLines.join(' | ')}`);
    assert.ok(hostLines.some((line) => line.startsWith('repository built at')));
  });

  test('beans are built once per bundle version across many runs, even concurrent ones of two job beans', async () => {
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => executor.execute(moduleRequest(i % 2 ? 'listRows' : 'countRows', { params: { ms: 50 } }), recordingHooks())),
    );
    const results = runs.map(resultOf);
    assert.equal(new Set(results.map((r) => r.contextId)).size, 1, 'every run used the same context');
    for (const r of results) assert.deepEqual(r.calls, { clock: 1, repository: 1, countRows: 1, listRows: 1 });
    assert.equal(executor.threadCount(), 1);
  });

  test('a resolver bean returns its specs, and a bean that is not a job fails naming it', async () => {
    const outcome = await executor.execute(moduleRequest('subJobs', { params: { n: 3 } }), recordingHooks());
    assert.deepEqual(measured(outcome), { ok: true, result: null, specs: [{ name: 'child-3', entry: 'countRows', schedule: { type: 'MANUAL' } }] });
    assert.match(failed(await executor.execute(moduleRequest('notAJob'), recordingHooks())).error.message, /bean "notAJob" of the module is not a job/);
    assert.match(failed(await executor.execute(moduleRequest('nope'), recordingHooks())).error.message, /bean "nope" of the module is not defined/);
  });

  test('a failing bean, a dependency cycle and a missing bean fail the run at boot with a message naming the bean', async () => {
    const cases: Array<[string, RegExp]> = [
      ['broken-bean', /module context failed to start: bean "pool" failed to build: Error: cannot connect to the database/],
      ['cycle', /module context failed to start: dependency cycle: gamma → alpha → beta → gamma/],
      ['missing-bean', /module context failed to start: bean "report" needs bean "mailer", which is not defined/],
      ['not-a-module', /must default-export a module definition/],
    ];
    for (const [fixture, pattern] of cases) {
      const job = { id: 9, name: fixture, project: 'broken', projectId: 9 };
      const outcome = failed(await executor.execute(moduleRequest('any', { job }, fixture, 100), recordingHooks()));
      assert.equal(outcome.aborted, false);
      assert.match(outcome.error.message, pattern);
    }
  });

  test('a hung run that ignores its abort restarts the context; the other runs that had started on it are interrupted naming it', async () => {
    const hooks = recordingHooks();
    const hungRequest = moduleRequest('hang', {}, 'graph', 2);
    const hung = executor.execute(hungRequest, hooks);
    const before = resultOf(await executor.execute(moduleRequest('countRows', {}, 'graph', 2), recordingHooks()));
    // Once a context has booted, a worker of its memory limit waits for the next context (module-spares.ts).
    await eventually('a spare worker', () => (executor.spares().waiting === 1 ? true : undefined));
    const adopted = executor.spares().adopted;
    const bystander = executor.execute(moduleRequest('countRows', { params: { ms: 5_000 } }, 'graph', 2), recordingHooks());
    await new Promise((resolve) => setTimeout(resolve, 100));
    hooks.controller.abort(new Error('killed by test'));
    const killed = failed(await hung);
    assert.equal(killed.aborted, true);
    assert.match(killed.error.message, /did not stop after abort \(killed by test\); its module context was terminated/);
    const other = failed(await bystander);
    assert.equal(other.interrupted, true);
    assert.equal(other.error.code, 'MODULE_RESTARTED');
    assert.match(other.error.message, new RegExp(`module context terminated because run ${hungRequest.runId} did not stop after its abort`));
    const afterKill = resultOf(await executor.execute(moduleRequest('countRows', {}, 'graph', 2), recordingHooks()));
    assert.notEqual(afterKill.contextId, before.contextId, 'a fresh context serves the next run');
    assert.equal(executor.spares().adopted, adopted + 1, 'the fresh context adopted the spare worker instead of starting one');
    await eventually('the next spare worker', () => (executor.spares().waiting === 1 ? true : undefined));
  });

  test('a new bundle version boots a new context; the old one drains its run, then its onStop and disposers run', async () => {
    const v1 = resultOf(await executor.execute(moduleRequest('countRows', {}, 'graph', 10), recordingHooks()));
    const inFlight = executor.execute(moduleRequest('countRows', { params: { ms: 2_000 } }, 'graph', 10), recordingHooks());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const v2 = resultOf(await executor.execute(moduleRequest('countRows', {}, 'graph', 11), recordingHooks()));
    assert.notEqual(v2.contextId, v1.contextId);
    assert.ok(!events(eventsFile).includes(`${v1.contextId} stop`), 'v1 is not stopped while a run is in flight on it');
    assert.equal(resultOf(await inFlight).contextId, v1.contextId, 'the run in flight finished on v1');
    const v1Events = await eventually('v1 to stop', () => {
      const mine = events(eventsFile).filter((line) => line.startsWith(v1.contextId)).map((line) => line.slice(v1.contextId.length + 1));
      return mine.includes('dispose clock') ? mine : undefined;
    });
    assert.deepEqual(v1Events, ['start', 'stop', 'dispose repository', 'dispose clock']);
  });

  test("a version upload that retires its limit's only context leaves the spare worker a while: the new version's context adopts it", async () => {
    const own = createModuleExecutor({ config: testConfig(), logger: silentLogger });
    try {
      const job = { id: 30, name: 'solo', project: 'p30', projectId: 30 };
      const v1 = resultOf(await own.execute(moduleRequest('countRows', { job }, 'graph', 30), recordingHooks()));
      await eventually('a spare worker', () => (own.spares().waiting === 1 ? true : undefined));
      await own.retire(30, 31);
      assert.equal(own.threadCount(), 0, 'v1 stopped: no context of its memory limit is left');
      assert.equal(own.spares().waiting, 1, 'the spare worker lingers (module-spares.ts LINGER_MS)');
      const adopted = own.spares().adopted;
      const v2 = resultOf(await own.execute(moduleRequest('countRows', { job }, 'graph', 31), recordingHooks()));
      assert.notEqual(v2.contextId, v1.contextId);
      assert.equal(own.spares().adopted, adopted + 1, "v2's context adopted the spare worker instead of starting one");
    } finally {
      await own.close();
    }
    assert.equal(own.spares().waiting, 0, 'close() ends a lingering spare too');
  });

  test('close() calls onStop of every live context and ends their workers', async () => {
    const own = createModuleExecutor({ config: testConfig(), logger: silentLogger });
    const a = resultOf(await own.execute(moduleRequest('countRows', {}, 'graph', 20), recordingHooks()));
    const b = resultOf(await own.execute(moduleRequest('countRows', { job: { id: 8, name: 'other', project: 'p2', projectId: 2 } }, 'graph', 21), recordingHooks()));
    assert.equal(own.threadCount(), 2, "two projects' modules are two contexts");
    await own.close();
    assert.equal(own.threadCount(), 0);
    assert.equal(own.spares().waiting, 0, 'close() ends the spare workers');
    const lines = events(eventsFile);
    for (const id of [a.contextId, b.contextId]) assert.ok(lines.includes(`${id} stop`), `${id} got onStop`);
    assert.equal(failed(await own.execute(moduleRequest('countRows'), recordingHooks())).aborted, true);
  });
});
