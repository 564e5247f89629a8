/**
 * Jobs that change the globals of their worker (toJSON on the built-in prototypes, a replaced JSON) or forge
 * messages on its port, through a real host: each run still ends within seconds, with its own result or FAILED
 * saying why; the next run on the same worker (one worker per project) ends normally; and the host stops well within
 * its grace time. A stuck run used to hold a stop for shutdownGraceMs + killGraceMs (15 s with the defaults).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { startHost, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { finishedRun } from '../helpers/runs.js';
import { threadBundle, zip } from '../helpers/zip.js';
import { GLOBAL_CHANGERS_ISOLATE, GLOBAL_CHANGERS_MODULE, GLOBAL_CHANGERS_THREAD } from '../fixtures/e2e/jobs.js';

/** The host's own defaults: the stop this suite measures is the stop a user gets. */
const SHUTDOWN_GRACE_MS = 10_000;
const KILL_GRACE_MS = 5_000;
/** These jobs end in well under a second; a run stuck RUNNING never does. */
const RUN_END_MS = 15_000;

type Kind = 'thread' | 'module' | 'isolate';

function bundleOf(kind: Kind): Promise<Buffer> {
  if (kind === 'thread') return threadBundle(GLOBAL_CHANGERS_THREAD, {}, 'changed-globals');
  const main = kind === 'module' ? 'index.mjs' : 'job.js';
  return zip({
    'jobcenter.json': JSON.stringify({ name: 'changed-globals', version: '1.0.0', main, kind }),
    [main]: kind === 'module' ? GLOBAL_CHANGERS_MODULE : GLOBAL_CHANGERS_ISOLATE,
  });
}

for (const database of testDatabases()) {
  describe(`jobs that change their worker's globals, on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: (() => Promise<void>) | undefined;
    let stopped = false;

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db, options: { threadsPerProject: 1, shutdownGraceMs: SHUTDOWN_GRACE_MS, killGraceMs: KILL_GRACE_MS } });
    });

    after(async () => {
      if (!stopped) await th?.stop();
      await drop?.();
    });

    /** A project of its own (so one worker of its own) with the changers' bundle of `kind`. */
    async function project(kind: Kind, name: string): Promise<number> {
      const created = await th.api.post('/api/v1/projects', { name });
      assert.equal(created.status, 201, created.text);
      const upload = await th.api.upload(created.body.id, await bundleOf(kind));
      assert.equal(upload.status, 201, upload.text);
      return created.body.id;
    }

    /** Triggers `entry` once and returns its run once it has ended, checked against the run-row contract. */
    async function run(projectId: number, kind: Kind, entry: string): Promise<ContractRun> {
      const job = await th.api.post('/api/v1/jobs', { projectId, name: entry, kind, entry, params: { kind }, schedule: { type: 'MANUAL' } });
      assert.equal(job.status, 201, job.text);
      const fired = await th.api.post(`/api/v1/jobs/${job.body.id}/trigger`);
      assert.equal(fired.status, 202, fired.text);
      return finishedRun(th.api, fired.body.runId, { timeoutMs: RUN_END_MS });
    }

    async function logOf(runId: string): Promise<string> {
      return (await th.api.get(`/api/v1/runs/${runId}/log`)).text;
    }

    /**
     * Runs `entry`, then `after` in the same project; `after` must end normally, whatever `entry` did. With
     * `sameWorker` it must have run on the worker `entry` changed, else on a fresh one (an isolate run always gets
     * a fresh context).
     */
    async function changeThenAfter(kind: Kind, entry: string, sameWorker = kind !== 'isolate'): Promise<ContractRun> {
      const projectId = await project(kind, `${kind}-${entry}`);
      const changed = await run(projectId, kind, entry);
      const next = await run(projectId, kind, 'after');
      assert.equal(next.status, 'SUCCEEDED', JSON.stringify(next.error));
      assert.equal(next.result, `after 42 on a worker changed by ${sameWorker ? entry : 'undefined'}`);
      assert.match(await logOf(next.runId), /after, on a worker changed by /);
      return changed;
    }

    for (const kind of ['thread', 'module', 'isolate'] as const) {
      test(`${kind === 'isolate' ? 'an' : 'a'} ${kind} job that sets Array.prototype.toJSON succeeds with its result, and the next run on its worker succeeds`, async () => {
        const changed = await changeThenAfter(kind, 'arrayToJSON');
        assert.equal(changed.status, 'SUCCEEDED', JSON.stringify(changed.error));
        assert.equal(changed.result, 'Array.prototype.toJSON is set');
        assert.match(await logOf(changed.runId), /Array\.prototype\.toJSON is set/);
      });

      test(`${kind === 'isolate' ? 'an' : 'a'} ${kind} job that sets Object.prototype.toJSON succeeds with its result, and the next run on its worker succeeds`, async () => {
        const changed = await changeThenAfter(kind, 'objectToJSON');
        assert.equal(changed.status, 'SUCCEEDED', JSON.stringify(changed.error));
        assert.equal(changed.result, 'Object.prototype.toJSON is set');
        assert.match(await logOf(changed.runId), /Object\.prototype\.toJSON is set/);
      });

      test(`${kind === 'isolate' ? 'an' : 'a'} ${kind} job that replaces JSON.stringify and JSON.parse gets the real JSON of its result, and the next run on its worker succeeds`, async () => {
        const changed = await changeThenAfter(kind, 'replaceJSON');
        assert.equal(changed.status, 'SUCCEEDED', JSON.stringify(changed.error));
        assert.equal(changed.result, '{"list":[1,2],"text":"the real JSON"}');
        assert.match(await logOf(changed.runId), /JSON\.stringify and JSON\.parse are replaced/);
      });

      test(`${kind === 'isolate' ? 'an' : 'a'} ${kind} job that replaces Set, Map, Math, parseInt, Object.assign and timers succeeds with its result and what it used, and the next run on its worker succeeds`, async () => {
        const changed = await changeThenAfter(kind, 'replaceBuiltins');
        assert.equal(changed.status, 'SUCCEEDED', JSON.stringify(changed.error));
        assert.equal(changed.result, 'builtins are replaced');
        checkRunContract(changed, { resources: true });
      });

      if (kind === 'isolate') continue;
      test(`a ${kind} job that forges a message the host cannot read fails saying why, and the next run succeeds on a fresh worker`, async () => {
        const changed = await changeThenAfter(kind, 'forgeMessage', false);
        assert.equal(changed.status, 'FAILED');
        assert.match(changed.error!.message, /sent a message the host could not read/);
      });

      test(`a ${kind} job that forges a malformed result for itself fails saying why, and the next run on its worker succeeds`, async () => {
        const changed = await changeThenAfter(kind, 'forgeResult');
        assert.equal(changed.status, 'FAILED');
        assert.match(changed.error!.message, /outcome could not be read: .*result/);
      });
    }

    test('the host stops well within its grace time', async () => {
      const started = Date.now();
      await th.stop();
      stopped = true;
      const took = Date.now() - started;
      assert.ok(took < SHUTDOWN_GRACE_MS, `the stop took ${took} ms`);
    });
  });
}
