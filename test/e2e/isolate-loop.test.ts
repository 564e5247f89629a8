/**
 * An isolate job in an endless synchronous loop costs only its own run: isolate jobs of other projects keep firing on
 * time beside it, and the host's event loop is never held while it loops (the loop ends at its CPU limit). A loop a
 * job leaves behind after its reply does not spin on in its idle isolate.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { eventually, sleep, startHost, type TestHost } from '../helpers/host.js';
import type { ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { zip } from '../helpers/zip.js';

const MAIN = `"use strict";
exports.beat = { execute() { return 'beat'; } };
exports.loop = { execute() { for (;;) {} } };
exports.leaves = { execute(ctx) { ctx.cache.get('k').then(() => { for (;;) {} }); return 'replied'; } };
`;
const LOOP_TIMEOUT_MS = 3_000;
const BEAT_EVERY_MS = 1_000;
/** Generous on a loaded machine; holding the host while the loop runs costs ~2.9 s. */
const MAX_LAG_MS = 1_000;
const MAX_LOOP_DELAY_MS = 1_000;
const LEFTOVER_WINDOW_MS = 3_000;

describe('an isolate job in an endless loop', () => {
  let th: TestHost;

  before(async () => {
    th = await startHost();
  });

  after(async () => {
    await th?.stop();
  });

  async function project(name: string): Promise<number> {
    const created = await th.api.post('/api/v1/projects', { name });
    assert.equal(created.status, 201, created.text);
    const bundle = await zip({ 'jobcenter.json': JSON.stringify({ name, version: '1.0.0', kind: 'isolate', main: 'job.js' }), 'job.js': MAIN });
    const uploaded = await th.api.upload(created.body.id, bundle);
    assert.equal(uploaded.status, 201, uploaded.text);
    return created.body.id;
  }

  async function job(body: Record<string, unknown>): Promise<number> {
    const created = await th.api.post('/api/v1/jobs', { kind: 'isolate', ...body });
    assert.equal(created.status, 201, created.text);
    return created.body.id;
  }

  test('does not delay an every-second isolate job of another project, nor hold the host, and ends at its CPU limit', async (t) => {
    const looping = await project('looping');
    const bystander = await project('bystander');
    const loopJob = await job({ projectId: looping, name: 'loop', entry: 'loop', schedule: { type: 'MANUAL' }, timeoutMs: LOOP_TIMEOUT_MS });
    const beatJob = await job({ projectId: bystander, name: 'beat', entry: 'beat', schedule: { type: 'INTERVAL', everyMs: BEAT_EVERY_MS }, concurrency: 'SKIP', timeoutMs: 10_000, start: true });
    const beats = (): Promise<ContractRun[]> => listRuns(th.api, `jobId=${beatJob}&limit=1000`);
    await eventually('the beat job to run', async () => ((await beats()).some((r) => r.status === 'SUCCEEDED') ? true : undefined));

    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const from = Date.now();
    const triggered = await th.api.post(`/api/v1/jobs/${loopJob}/trigger`);
    assert.equal(triggered.status, 202, triggered.text);
    const loop = await finishedRun(th.api, triggered.body.runId, { timeoutMs: 30_000 });
    const to = Date.parse(loop.endedAt!) + 1_000;
    // Every fire up to a second after the loop's end has had time to start and end.
    await eventually('the beats after the loop to end', async () => {
      const done = (await beats()).filter((r) => Date.parse(r.scheduledAt) >= to && r.status !== 'QUEUED' && r.status !== 'RUNNING');
      return done.length > 0 ? true : undefined;
    });
    delay.disable();

    const during = (await beats()).filter((r) => Date.parse(r.scheduledAt) >= from && Date.parse(r.scheduledAt) < to);
    const lags = during.filter((r) => r.startedAt !== null).map((r) => Date.parse(r.startedAt!) - Date.parse(r.scheduledAt));
    const maxLag = Math.max(...lags);
    const maxDelay = Math.round(delay.max / 1e6);
    t.diagnostic(`loop ${loop.status} in ${loop.durationMs} ms (${loop.error?.message}); ${during.length} beats over ${to - from} ms: ${JSON.stringify(statuses(during))}, max lag ${maxLag} ms; host event loop max delay ${maxDelay} ms`);

    assert.ok(loop.status === 'TIMED_OUT' || (loop.status === 'FAILED' && /CPU time limit/.test(loop.error!.message)), `the loop ends at its CPU limit, not ${loop.status}: ${loop.error?.message}`);
    assert.ok(loop.durationMs! >= LOOP_TIMEOUT_MS * 0.9, `the loop ran its ${LOOP_TIMEOUT_MS} ms (${loop.durationMs} ms)`);
    assert.deepEqual(during.filter((r) => r.status !== 'SUCCEEDED').map((r) => `${r.scheduledAt} ${r.status}: ${r.error?.message}`), [], 'every beat beside the loop SUCCEEDED (none SKIPPED)');
    assert.ok(during.length >= ((to - from) / BEAT_EVERY_MS) * 0.5, `the beat kept firing beside the loop (${during.length} runs in ${to - from} ms)`);
    assert.ok(maxLag < MAX_LAG_MS, `every beat started within ${MAX_LAG_MS} ms of its schedule (max lag ${maxLag} ms)`);
    assert.ok(maxDelay < MAX_LOOP_DELAY_MS, `the host's event loop was never held ${MAX_LOOP_DELAY_MS} ms (max delay ${maxDelay} ms)`);
  });

  test('left behind after a reply is stopped in its idle isolate, and not charged to the next run', async (t) => {
    const projectId = await project('leaving');
    const leaves = await job({ projectId, name: 'leaves', entry: 'leaves', schedule: { type: 'MANUAL' }, timeoutMs: LOOP_TIMEOUT_MS });
    const runOnce = async (): Promise<ContractRun> => {
      const triggered = await th.api.post(`/api/v1/jobs/${leaves}/trigger`);
      assert.equal(triggered.status, 202, triggered.text);
      return finishedRun(th.api, triggered.body.runId, { timeoutMs: 30_000 });
    };
    const first = await runOnce();
    assert.equal(first.status, 'SUCCEEDED', `the run replied: ${first.error?.message}`);
    // The idle isolate may burn ~1 s on the leftover before it is disposed; from 2.5 s on, nothing should spin.
    await sleep(2_500);
    const before = process.cpuUsage();
    await sleep(LEFTOVER_WINDOW_MS);
    const used = process.cpuUsage(before);
    const cpuMs = Math.round((used.user + used.system) / 1000);
    const second = await runOnce();
    t.diagnostic(`after a reply that left a loop: host process CPU ${cpuMs} ms over ${LEFTOVER_WINDOW_MS} ms; the next run ${second.status} in ${second.durationMs} ms (${second.error?.message})`);
    assert.ok(cpuMs < LEFTOVER_WINDOW_MS / 3, `no core spins on the leftover loop (${cpuMs} ms of CPU in ${LEFTOVER_WINDOW_MS} ms)`);
    assert.equal(second.status, 'SUCCEEDED', `the next run is not charged for the leftover: ${second.error?.message}`);
  });
});

function statuses(runs: readonly ContractRun[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const run of runs) counts[run.status] = (counts[run.status] ?? 0) + 1;
  return counts;
}
