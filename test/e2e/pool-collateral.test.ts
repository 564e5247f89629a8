/**
 * Collateral damage inside a project (issue 22, item 3) and Buffers under memoryLimitMb (item 4): runs of one project
 * share a worker pool, so a job that loops, one that exhausts its memory and one that holds Buffers must cost only
 * themselves. An every-second SKIP job of the same bundle keeps firing beside them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { threadBundle, zip } from '../helpers/zip.js';

const SLEEP = `
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')); });
});
`;

/** The jobs, as an object literal (a thread bundle exports them, a module bundle makes them beans). */
const JOBS = `{
  ok: { execute(ctx) { return 'ok ' + ctx.runId; } },
  sleeper: { async execute(ctx) { await sleep(ctx.params.ms, ctx.signal); return 'slept'; } },
  spin: { execute() { for (;;) {} } },
  hog: { execute() { const a = []; for (;;) a.push(new Array(100000).fill(Math.random())); } },
  thrower: { execute() { throw new Error('boom from the job'); } },
  bufferBomb: {
    async execute(ctx) {
      const held = [];
      for (let i = 0; i < ctx.params.mb; i++) held.push(Buffer.alloc(1024 * 1024, 1));
      await sleep(ctx.params.holdMs, ctx.signal);
      return 'held ' + held.length + ' MB';
    },
  },
}`;

type Kind = 'thread' | 'module';

function bundleOf(kind: Kind): Promise<Buffer> {
  if (kind === 'thread') return threadBundle(`${SLEEP}\nconst jobs = ${JOBS};\nexport const { ok, sleeper, spin, hog, thrower, bufferBomb } = jobs;\n`);
  const main = `${SLEEP}\nconst jobs = ${JOBS};\nexport default { beans: Object.fromEntries(Object.entries(jobs).map(([name, job]) => [name, () => job])) };\n`;
  return zip({ 'jobcenter.json': JSON.stringify({ name: 'collateral', version: '1.0.0', main: 'index.mjs', kind: 'module' }), 'index.mjs': main });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const kind of ['thread', 'module'] as const) describe(`one project: a looping, a memory-exhausting and a throwing job beside an every-second SKIP job (${kind})`, () => {
  let th: TestHost;
  let projectId: number;

  async function job(name: string, entry: string, extra: Record<string, unknown> = {}): Promise<number> {
    const res = await th.api.post('/api/v1/jobs', { projectId, name, kind, entry, schedule: { type: 'MANUAL' }, ...extra });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  async function trigger(jobId: number, params?: unknown): Promise<string> {
    const res = await th.api.post(`/api/v1/jobs/${jobId}/trigger`, params === undefined ? undefined : { params });
    assert.equal(res.status, 202, res.text);
    return res.body.runId;
  }

  before(async () => {
    // One worker per pool: every run of the project shares it unless the pool moves it away. A short kill grace keeps
    // the suite short; the scenario is otherwise the (a 3 s timeout for the loop).
    // A module context takes its memory limit from its first run: every job of it runs under the default.
    th = await startHost({ options: { threadsPerProject: 1, killGraceMs: 1_000, defaultMemoryLimitMb: kind === 'module' ? 128 : 64 } });
    projectId = (await th.api.post('/api/v1/projects', { name: 'collateral' })).body.id;
    const uploaded = await th.api.upload(projectId, await bundleOf(kind));
    assert.equal(uploaded.status, 201, uploaded.text);
  });

  after(async () => {
    await th?.stop();
  });

  test('the every-second job loses at most one fire and none of its runs fails; a started neighbour is interrupted naming the culprit and rerun', async (t) => {
    const heartbeat = await job('every-second', 'ok', { schedule: { type: 'CRON', cron: '* * * * * *' }, concurrency: 'SKIP', start: true });
    const sleeper = await job('sleeper', 'sleeper', { onInterrupt: 'rerun' });
    const spin = await job('spin', 'spin', { timeoutMs: 3_000 });
    const hog = await job('hog', 'hog', { timeoutMs: 30_000 });
    const thrower = await job('thrower', 'thrower');
    await sleep(1_500);
    const windowStart = Date.now();
    const sleeperRun = await trigger(sleeper, { ms: 20_000 });
    await sleep(300);
    const spinRun = await trigger(spin);

    const spun = await finishedRun(th.api, spinRun, { timeoutMs: 20_000 });
    assert.equal(spun.status, 'TIMED_OUT');
    const interrupted = await finishedRun(th.api, sleeperRun, { timeoutMs: 20_000 });
    assert.equal(interrupted.status, 'INTERRUPTED', JSON.stringify(interrupted));
    assert.match(interrupted.error!.message, new RegExp(`(worker|module context) terminated because run ${spinRun} did not stop`));
    const recovery = await eventuallyRun(sleeper, (run) => run.trigger === 'RECOVERY');
    assert.equal(recovery.trigger, 'RECOVERY');

    const hogged = await finishedRun(th.api, await trigger(hog), { timeoutMs: 30_000 });
    assert.equal(hogged.status, 'FAILED');
    assert.equal(hogged.error!.code, 'ERR_WORKER_OUT_OF_MEMORY');
    const thrown = await finishedRun(th.api, await trigger(thrower));
    assert.equal(thrown.status, 'FAILED');
    await sleep(2_000);
    const windowEnd = Date.now();
    assert.equal((await th.api.post(`/api/v1/jobs/${heartbeat}/stop`)).status, 200);

    const runs = (await listRuns(th.api, `jobId=${heartbeat}&limit=200`)).filter((run) => {
      const at = Date.parse(run.scheduledAt);
      return at >= windowStart && at < windowEnd - 1_000;
    });
    // The whole-second fire times in [windowStart, windowEnd - 1 s).
    const seconds = Math.ceil((windowEnd - 1_000) / 1_000) - Math.ceil(windowStart / 1_000);
    const finished = runs.filter((run) => run.status !== 'QUEUED' && run.status !== 'RUNNING');
    const succeeded = finished.filter((run) => run.status === 'SUCCEEDED');
    const failed = finished.filter((run) => run.status === 'FAILED');
    t.diagnostic(`${kind}: the every-second job lost ${seconds - succeeded.length} of ${seconds} fires`);
    assert.deepEqual(failed, [], 'no run of the every-second job failed');
    assert.ok(seconds - succeeded.length <= 1, `the every-second job lost ${seconds - succeeded.length} of ${seconds} fires: ${JSON.stringify(finished.map((r) => [r.scheduledAt, r.status, r.error?.message]))}`);
  });

  test('a Buffer bomb (300 MB under memoryLimitMb 128) fails with the memory-limit error, and the host lives on', async (t) => {
    const bomb = await job('buffer-bomb', 'bufferBomb', { ...(kind === 'thread' ? { memoryLimitMb: 128 } : {}), timeoutMs: 60_000 });
    let peakRss = process.memoryUsage().rss;
    let durationMs = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
    try {
      const run = await finishedRun(th.api, await trigger(bomb, { mb: 300, holdMs: 30_000 }), { timeoutMs: 30_000 });
      assert.equal(run.status, 'FAILED');
      assert.equal(run.error!.code, 'ERR_WORKER_OUT_OF_MEMORY');
      assert.match(run.error!.message, /memory limit of 128 MB: the (worker|context) held \d+ MB of heap and Buffers/);
      durationMs = Date.parse(run.endedAt!) - Date.parse(run.startedAt!);
      assert.ok(durationMs < 20_000, 'it ended long before its hold was over');
    } finally {
      clearInterval(sampler);
    }
    t.diagnostic(`${kind}: host RSS peak during the Buffer bomb: ${Math.round(peakRss / 1024 / 1024)} MB; the bomb ran ${durationMs} ms`);
    assert.equal((await th.api.get('/healthz')).status, 200);
    const ok = await job('after-bomb', 'ok');
    assert.equal((await finishedRun(th.api, await trigger(ok))).status, 'SUCCEEDED');
  });

  async function eventuallyRun(jobId: number, match: (run: ContractRun) => boolean): Promise<ContractRun> {
    for (let i = 0; i < 100; i++) {
      const found = (await listRuns(th.api, `jobId=${jobId}&limit=20`)).find(match);
      if (found) return checkRunContract(found);
      await sleep(100);
    }
    throw new Error(`no matching run of job ${jobId}`);
  }
});
