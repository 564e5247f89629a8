/**
 * Module jobs end to end over HTTP against a real host (SQLite): a bean graph shared by two jobs, a bundle update
 * that swaps contexts without losing a tick or cutting a run, a bean that fails at upload, and two projects whose
 * modules keep their own state.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, SAMPLES, startHost, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { zip, type Files } from '../helpers/zip.js';

function moduleBundle(code: string, extra: Files = {}, name = 'module-e2e'): Promise<Buffer> {
  return zip({
    'jobcenter.json': JSON.stringify({ name, version: '1.0.0', main: 'index.mjs', kind: 'module' }),
    'index.mjs': code,
    ...extra,
  });
}

/**
 * A module whose "repository" bean is shared by the job beans `counter` and `slow`; lifecycle events go to
 * `eventsFile` as "<version> <event> <epoch ms>". `counter` reports the version, its hits and the factory calls.
 * `slow` runs params.ms, or, given params.release (a file), until that file exists.
 */
function graphModule(version: string, eventsFile: string): string {
  return `
import { appendFileSync, existsSync } from 'node:fs';
const VERSION = ${JSON.stringify(version)};
const built = { repository: 0, counter: 0, slow: 0 };
const event = (what) => appendFileSync(${JSON.stringify(eventsFile)}, VERSION + ' ' + what + ' ' + Date.now() + '\\n');
export default {
  beans: {
    repository: { factory: () => (built.repository++, { hits: 0 }), dispose: () => event('dispose') },
    counter: async (ctx) => {
      built.counter++;
      const repo = await ctx.get('repository');
      return { execute: () => JSON.stringify({ version: VERSION, hits: ++repo.hits, built }) };
    },
    slow: async (ctx) => {
      built.slow++;
      const repo = await ctx.get('repository');
      return {
        async execute(run) {
          repo.hits++;
          event('slow-start');
          const release = run.params && run.params.release;
          if (release) while (!existsSync(release)) await new Promise((resolve) => setTimeout(resolve, 10));
          else await new Promise((resolve) => setTimeout(resolve, (run.params && run.params.ms) || 10));
          event('slow-done');
          return VERSION;
        },
      };
    },
  },
  onStart: () => event('start'),
  onStop: () => event('stop'),
};
`;
}

describe('module jobs on a real host', () => {
  let th: TestHost;
  let tmp: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'jc-module-e2e-'));
    th = await startHost();
  });
  after(async () => {
    await th?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  async function project(name: string): Promise<number> {
    const res = await th.api.post('/api/v1/projects', { name });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  async function job(body: Record<string, unknown>): Promise<number> {
    const res = await th.api.post('/api/v1/jobs', { kind: 'module', concurrency: 'ALLOW', schedule: { type: 'MANUAL' }, ...body });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  async function trigger(jobId: number, params?: unknown): Promise<string> {
    const res = await th.api.post(`/api/v1/jobs/${jobId}/trigger`, params === undefined ? undefined : { params });
    assert.equal(res.status, 202, res.text);
    return res.body.runId;
  }

  /** Triggers the job and returns its run once ended: a module run that ran its code says what it used. */
  async function runToEnd(jobId: number): Promise<ContractRun> {
    return finishedRun(th.api, await trigger(jobId), { resources: true });
  }

  test('an update swaps contexts: beans built once per version, no tick lost, the run in flight ends on v1, then v1 stops', async () => {
    const events = path.join(tmp, 'swap.events');
    const pid = await project('module-swap');
    const v1 = await th.api.upload(pid, await moduleBundle(graphModule('v1', events)));
    assert.equal(v1.status, 201, v1.text);
    assert.deepEqual(v1.body.exports.map((e: { name: string }) => e.name).sort(), ['counter', 'slow']);
    const slow = await job({ projectId: pid, name: 'slow', entry: 'slow' });
    const counter = await job({ projectId: pid, name: 'counter', entry: 'counter' });
    const ticker = await job({ projectId: pid, name: 'ticker', entry: 'counter', schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });

    const first = JSON.parse((await runToEnd(counter)).result!);
    assert.equal(first.version, 'v1');
    const release = path.join(tmp, 'swap.release');
    const inFlight = await trigger(slow, { release });
    const lines = async (): Promise<string[]> => (await readFile(events, 'utf8')).trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' '));
    const ticksOn = async (version: string): Promise<number> =>
      (await listRuns(th.api, `jobId=${ticker}&limit=200`)).filter((r) => r.status === 'SUCCEEDED' && JSON.parse(r.result!).version === version).length;
    await eventually('the slow run to start and a tick on v1', async () => ((await lines()).includes('v1 slow-start') && (await ticksOn('v1')) > 0 ? true : undefined));
    const again = JSON.parse((await runToEnd(counter)).result!);
    assert.deepEqual(again.built, { repository: 1, counter: 1, slow: 1 }, 'every bean was built once for v1');
    assert.ok(again.hits > first.hits + 1, 'the repository bean is shared by both jobs and the ticker');

    const v2 = await th.api.upload(pid, await moduleBundle(graphModule('v2', events)));
    assert.equal(v2.status, 201, v2.text);
    assert.equal((await runToEnd(slow)).result, 'v2');
    assert.equal((await lines()).includes('v1 slow-done'), false, 'the run on v1 is still in flight');
    await writeFile(release, '');
    const drained = await finishedRun(th.api, inFlight, { resources: true });
    assert.equal(drained.status, 'SUCCEEDED');
    assert.equal(drained.result, 'v1', 'the run in flight finished on v1');
    const disposals = async () => (await readFile(events, 'utf8')).split('v1 dispose ').length - 1;
    await eventually('v1 to stop after its run', async () => ((await disposals()) === 2 ? true : undefined));

    await eventually('two ticks on v2', async () => ((await ticksOn('v2')) >= 2 ? true : undefined));
    await th.api.post(`/api/v1/jobs/${ticker}/stop`);
    const ticks = await eventually('the last tick to end', async () => {
      const all = await listRuns(th.api, `jobId=${ticker}&limit=200`);
      return all.some((r) => r.status === 'QUEUED' || r.status === 'RUNNING') ? undefined : all.reverse();
    });
    assert.ok(ticks.every((r) => r.status === 'SUCCEEDED'), JSON.stringify(ticks.map((r) => r.status)));
    for (const tick of ticks) checkRunContract(tick, { resources: true });
    const seconds = ticks.map((r) => new Date(r.scheduledAt).getTime() / 1000);
    for (let i = 1; i < seconds.length; i++) assert.equal(seconds[i]! - seconds[i - 1]!, 1, 'no tick lost');
    assert.equal(JSON.parse(ticks[0]!.result!).version, 'v1');
    const last = JSON.parse(ticks[ticks.length - 1]!.result!);
    assert.equal(last.version, 'v2');
    assert.deepEqual(last.built, { repository: 1, counter: 1, slow: 1 }, 'v2 built its beans once too');
    // The upload's introspection boots and stops the context once too, before any run.
    const v1Lines = (await lines()).filter((l) => l.startsWith('v1'));
    assert.deepEqual(v1Lines.slice(0, 3), ['v1 start', 'v1 stop', 'v1 dispose'], 'introspection at upload');
    assert.deepEqual(v1Lines.slice(3, 8), ['v1 start', 'v1 slow-start', 'v1 slow-done', 'v1 stop', 'v1 dispose'], 'v1 stopped after its run drained');
    // A tick planned or queued on v1 before the upload that reaches the executor after v1's context stopped runs on
    // a context of its own, dropped at its end (executors/shared/current-versions.ts): seen on a busy machine. Each
    // such context is a whole start-stop-dispose, and only a tick on v1 makes one.
    const late = v1Lines.slice(8);
    assert.deepEqual(late, late.map((_, i) => ['v1 start', 'v1 stop', 'v1 dispose'][i % 3]), 'only whole contexts of v1 after it stopped');
    assert.ok(late.length % 3 === 0 && late.length / 3 <= (await ticksOn('v1')) - 1, `${late.length / 3} late contexts of v1`);
  });

  test('an upload whose bean fails to build is refused with 422 naming the bean, and the current version stays', async () => {
    const pid = await project('module-broken');
    const good = await th.api.upload(pid, await moduleBundle(graphModule('good', path.join(tmp, 'broken.events'))));
    assert.equal(good.status, 201, good.text);
    const broken = `export default { beans: {
      pool: () => { throw new Error('no database at db.example:5432'); },
      report: async (ctx) => ({ pool: await ctx.get('pool'), execute: () => 'x' }),
    } };`;
    const res = await th.api.upload(pid, await moduleBundle(broken));
    assert.equal(res.status, 422, res.text);
    assert.match(res.body.error.message, /bean "pool" failed to build: Error: no database at db\.example:5432/);
    const cycle = `export default { beans: { a: async (ctx) => ctx.get('b'), b: async (ctx) => ctx.get('a') } };`;
    const refused = await th.api.upload(pid, await moduleBundle(cycle));
    assert.equal(refused.status, 422, refused.text);
    assert.match(refused.body.error.message, /dependency cycle: b → a → b/);
    assert.equal((await th.api.get(`/api/v1/projects/${pid}`)).body.currentBundleId, good.body.id);
  });

  test("two projects' modules do not share state", async () => {
    const counterModule = `let n = 0;
      export default { beans: { counter: () => ({ execute: () => String(++n) }) } };`;
    const results: string[][] = [];
    for (const name of ['module-left', 'module-right']) {
      const pid = await project(name);
      assert.equal((await th.api.upload(pid, await moduleBundle(counterModule, {}, name))).status, 201);
      const id = await job({ projectId: pid, name: 'count', entry: 'counter' });
      const mine: string[] = [];
      for (let i = 0; i < 3; i++) mine.push((await runToEnd(id)).result!);
      results.push(mine);
    }
    assert.deepEqual(results, [['1', '2', '3'], ['1', '2', '3']]);
  });

  test('the module-demo sample (npm run build) uploads and its two job beans share one repository', async () => {
    const pid = await project('module-demo-sample');
    const upload = await th.api.upload(pid, await readFile(path.join(SAMPLES, 'module-demo.zip')));
    assert.equal(upload.status, 201, upload.text);
    assert.deepEqual(upload.body.exports.map((e: { name: string }) => e.name).sort(), ['addPerson', 'countPeople']);
    const specs = JSON.parse(await readFile(path.join(SAMPLES, 'module-demo.jobs.json'), 'utf8')) as Array<Record<string, unknown>>;
    const ids = new Map<unknown, number>();
    for (const spec of specs) ids.set(spec.entry, await job({ ...spec, projectId: pid, start: false }));
    assert.equal((await runToEnd(ids.get('countPeople')!)).result, '3 people');
    assert.equal((await runToEnd(ids.get('addPerson')!)).result, 'added Katherine: 4 people');
    assert.equal((await runToEnd(ids.get('countPeople')!)).result, '4 people');
  });
});
