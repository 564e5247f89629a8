/**
 * The README's first start: the host seeds the sample projects from dist/samples (hello: a TypeScript thread job
 * with params, config profiles, cache and log; module-demo; isolate-demo; resolver-demo and its sub-jobs; deps-demo
 * with dayjs and lodash in its bundle; shell and python: exec jobs), they run, their logs read back by run id.
 * Also: exec jobs that fail, flood or cannot start; following a log; deleting a bundle in use; endAt; and a
 * stopped host leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { eventually, sleep, startHost, type TestHost } from '../helpers/host.js';
import type { ContractOptions, ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns, readRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';
import { HOSTILE_AND_GOOD } from '../fixtures/e2e/jobs.js';

describe('the sample projects on a first start', () => {
  let th: TestHost;
  const jobs = new Map<string, { id: number; projectId: number; state: string }>();

  /**
   * Triggers the job and returns its finished run, checked against the run-row contract. A run that ran its code to
   * its end says what it used: pass `{ resources: true }` (not for exec commands short enough to end before their
   * first sample, see docs/statuses.md).
   */
  async function runJob(id: number, contract: ContractOptions = {}): Promise<ContractRun> {
    const trig = await th.api.post(`/api/v1/jobs/${id}/trigger`);
    assert.equal(trig.status, 202, trig.text);
    return finishedRun(th.api, trig.body.runId, { ...contract, timeoutMs: 30_000 });
  }

  async function execJob(name: string, entry: string[], extra: Record<string, unknown> = {}): Promise<number> {
    const res = await th.api.post('/api/v1/jobs', { projectId: jobs.get('disk-usage')!.projectId, name, kind: 'exec', entry, schedule: { type: 'MANUAL' }, ...extra });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  before(async () => {
    th = await startHost({ options: { seedSamples: true } });
    for (const job of (await th.api.get('/api/v1/jobs')).body.items) jobs.set(job.name, job);
  });

  after(async () => {
    await th?.stop();
  });

  test('every sample project is there with its jobs, the scheduled ones ACTIVE', async () => {
    const listed = (await th.api.get('/api/v1/projects')).body.items as { name: string; trusted: boolean }[];
    const projects = listed.map((p) => p.name).sort();
    assert.deepEqual(projects, ['deps-demo', 'hello', 'isolate-demo', 'module-demo', 'python', 'resolver-demo', 'shell']);
    // The samples are the admin's own code: seeded trusted, so their thread, module and exec jobs run.
    assert.deepEqual(listed.filter((p) => !p.trusted), []);
    assert.deepEqual([...jobs.keys()].sort(), [
      'deps-report',
      'disk-usage',
      'hello-cron',
      'hello-every-10s',
      'isolate-fibonacci-cron',
      'isolate-words',
      'module-add-person',
      'module-count-every-15s',
      'python-stats',
      'slow-manual',
      'weather-resolver',
    ]);
    for (const name of ['hello-every-10s', 'isolate-fibonacci-cron', 'disk-usage']) assert.equal(jobs.get(name)!.state, 'ACTIVE', name);
    for (const name of ['slow-manual', 'isolate-words', 'weather-resolver', 'python-stats', 'deps-report']) assert.equal(jobs.get(name)!.state, 'STOPPED', name);
  });

  test('the hello job greets with its params and profile config, and counts its runs in the cache', async () => {
    const id = jobs.get('hello-every-10s')!.id;
    const first = await runJob(id, { resources: true });
    assert.equal(first.status, 'SUCCEEDED', JSON.stringify(first));
    assert.match(first.result!, /^Hello from dev, JobCenter! \(run \d+\)$/);
    const n = Number(/run (\d+)/.exec(first.result!)![1]);
    const second = await runJob(id, { resources: true });
    assert.equal(second.result, `Hello from dev, JobCenter! (run ${n + 1})`);
    const log = await th.api.get(`/api/v1/runs/${second.runId}/log`);
    assert.match(log.text, new RegExp(`\\[${second.runId}\\] Hello from dev`));
  });

  test('the shell job runs its script with the run id, params and config, and logs its output', async () => {
    const run = await runJob(jobs.get('disk-usage')!.id, { resources: true });
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run));
    const log = await th.api.get(`/api/v1/runs/${run.runId}/log`);
    assert.match(log.text, new RegExp(run.runId));
  });

  test('the isolate-demo job counts the words of its params in the sandbox, with its config', async () => {
    const run = await runJob(jobs.get('isolate-words')!.id, { resources: true });
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run));
    assert.equal(run.result, '13 words, 10 distinct; top: the=3 dog=2 and=1');
    const fib = await runJob(jobs.get('isolate-fibonacci-cron')!.id, { resources: true });
    assert.equal(fib.status, 'SUCCEEDED', JSON.stringify(fib));
    assert.match(fib.result!, /^fibonacci \d+$/);
  });

  test('the resolver-demo job creates a weather sub-job per city, which then run with the resolver\'s config', async () => {
    const resolver = jobs.get('weather-resolver')!.id;
    const run = await runJob(resolver, { resources: true });
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run));
    assert.equal(run.result, 'new:3, update:0, disable:0, enable:0');
    const subs = (await th.api.get<{ id: number; name: string; state: string; schedule: { type: string } }[]>(`/api/v1/jobs/${resolver}/subjobs`)).body;
    assert.deepEqual(subs.map((j) => [j.name, j.state, j.schedule.type]).sort(), [
      ['weather-oslo', 'ACTIVE', 'CRON'],
      ['weather-paris', 'ACTIVE', 'CRON'],
      ['weather-sao-paulo', 'ACTIVE', 'CRON'],
    ]);
    const cities: Record<string, string> = { 'weather-oslo': 'Oslo', 'weather-paris': 'Paris', 'weather-sao-paulo': 'São Paulo' };
    for (const sub of subs) {
      const done = await runJob(sub.id, { resources: true });
      assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done));
      // °F: the sub-job took the resolver's config file (units = fahrenheit).
      assert.match(done.result!, new RegExp(`^${cities[sub.name]}: -?\\d+°F$`));
    }
    assert.equal((await runJob(resolver, { resources: true })).result, 'new:0, update:0, disable:0, enable:0');
  });

  test('the deps-demo job loads dayjs and lodash from its bundle', async () => {
    const run = await runJob(jobs.get('deps-report')!.id, { resources: true });
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run));
    assert.equal(run.result, 'deadline Fri 1 Mar 2024 (2 weeks); api=5h web=5.5h');
    const log = await th.api.get(`/api/v1/runs/${run.runId}/log`);
    assert.match(log.text, /lodash 4\.\d+\.\d+, 2 teams/);
  });

  test('the python job reads its params and config and prints its result', async () => {
    const run = await runJob(jobs.get('python-stats')!.id, { resources: true });
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run));
    assert.equal(run.result, 'sum=40 mean=10');
    const log = await th.api.get(`/api/v1/runs/${run.runId}/log`);
    assert.match(log.text, new RegExp(`run id: ${run.runId}`));
    assert.match(log.text, /python 3\.\d+\.\d+, scale 2, 4 numbers/);
  });

  test('an exec job that exits non-zero fails with its exit code, a missing executable fails clearly', async () => {
    const failing = await runJob(await execJob('exit-3', ['sh', '-c', 'echo going; echo bad thing >&2; exit 3']));
    assert.equal(failing.status, 'FAILED');
    assert.match(failing.error!.message, /exited with code 3/);
    const missing = await runJob(await execJob('missing', ['/no/such/program']));
    assert.equal(missing.status, 'FAILED');
    assert.match(missing.error!.message, /\/no\/such\/program/);
  });

  test('an exec job that floods stdout has its log capped and the host stays well', async () => {
    const run = await runJob(await execJob('flood', ['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done']), { resources: true });
    assert.equal(run.status, 'SUCCEEDED');
    const log = await th.api.get(`/api/v1/runs/${run.runId}/log`);
    assert.match(log.text, /line 0 /);
    assert.match(log.text, /line 199999 /);
    assert.match(log.text, /cut/);
    assert.ok(log.text.length < 1.2 * 1024 * 1024, `capped: ${log.text.length}`);
    assert.equal((await fetch(`${th.url}/healthz`)).status, 200);
  });

  test('an exec job killed by its timeout takes its child processes with it', async () => {
    const run = await runJob(await execJob('sleeper', ['sh', '-c', 'sleep 30 & sleep 30; wait'], { timeoutMs: 300 }));
    assert.equal(run.status, 'TIMED_OUT');
  });

  test('?follow=1 streams a running run\'s log and ends when the run ends', async () => {
    const id = jobs.get('slow-manual')!.id;
    const trig = await th.api.post(`/api/v1/jobs/${id}/trigger`, { params: { ms: 1500 } });
    const started = Date.now();
    const res = await fetch(`${th.url}/api/v1/runs/${trig.body.runId}/log?follow=1`, { headers: { authorization: `Bearer ${th.api.token}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1000, `the stream stayed open while the run went on (${elapsed} ms)`);
    const run = await readRun(th.api, trig.body.runId, { resources: true });
    assert.equal(run.status, 'SUCCEEDED');
    assert.ok(text.split('\n').filter(Boolean).length >= 2, text);
  });

  test('deleting the bundle that jobs use is refused with 409 unless forced', async () => {
    const project = (await th.api.post('/api/v1/projects', { name: 'deletable' })).body;
    const upload = await th.api.upload(project.id, await threadBundle(HOSTILE_AND_GOOD));
    await th.api.post('/api/v1/jobs', { projectId: project.id, name: 'user', kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } });
    const refused = await th.api.delete(`/api/v1/projects/${project.id}/bundles/${upload.body.id}`);
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /force/);
    assert.equal((await th.api.delete(`/api/v1/projects/${project.id}/bundles/${upload.body.id}?force=1`)).status, 204);
    assert.equal((await th.api.get(`/api/v1/projects/${project.id}`)).body.currentBundleId, null);
  });

  test('a job whose endAt passes goes back to STOPPED', async () => {
    const projectId = jobs.get('hello-every-10s')!.projectId;
    const endAt = new Date(Date.now() + 1500).toISOString();
    const job = await th.api.post('/api/v1/jobs', { projectId, name: 'short-lived', kind: 'thread', entry: 'hello', schedule: { type: 'CRON', cron: '* * * * * *', endAt }, start: true });
    assert.equal(job.status, 201, job.text);
    assert.equal(job.body.state, 'ACTIVE');
    await eventually('the job to stop at endAt', async () => {
      const res = await th.api.get(`/api/v1/jobs/${job.body.id}`);
      return res.body.state === 'STOPPED' ? true : undefined;
    });
    const runs = await listRuns(th.api, `jobId=${job.body.id}`);
    assert.ok(runs.length >= 1 && runs.length <= 3, `${runs.length} runs before endAt`);
  });
});

describe('stopping a host', () => {
  test('a stopped host leaves no server, worker, child process or timer behind', async () => {
    await sleep(200);
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const th = await startHost({ options: { seedSamples: true } });
    try {
      const all = (await th.api.get('/api/v1/jobs')).body.items as { id: number; name: string }[];
      for (const job of all) if (job.name !== 'slow-manual') await th.api.post(`/api/v1/jobs/${job.id}/trigger`);
      const slow = all.find((j) => j.name === 'slow-manual');
      assert.ok(slow, 'the slow-manual sample job is missing (run npm run build)');
      await th.api.post(`/api/v1/jobs/${slow.id}/trigger`, { params: { ms: 60_000 } });
      await sleep(1000);
    } finally {
      // Stopped whatever failed above: a host left running would keep this test file's process alive for ever.
      await th.stop();
    }
    // Sockets and handles close a little after stop() resolves: wait for them (up to 5 s), then compare.
    const left = (): string[] => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').sort();
    await eventually('what the host held to be let go', async () => (isDeepStrictEqual(left(), before.sort()) ? true : undefined), 5_000).catch(() => undefined);
    assert.deepEqual(left(), before.sort());
  });
});
