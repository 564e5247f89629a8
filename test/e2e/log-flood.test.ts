/**
 * A log flood from one thread job does not stall the host (issue 22, item 2): one project's job writes about 200 MB
 * through ctx.log, console.log and process.stdout.write while another project's job fires every second. The flood
 * (spread over ~10 s: a pause of 40 ms every 1,000 lines) is capped in its worker (head, a marker saying what was dropped, tail), nothing of it reaches the host's stdout,
 * the other job loses no fire and /healthz keeps answering. The figures it prints (fire lag p99 without and with
 * the flood, host RSS) are the ones in docs/isolation.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, spawnWithProject, type SpawnedProject } from '../helpers/host.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';
import type { ContractRun } from '../helpers/run-contract.js';

/** Lines per way of writing: 3 × 70,000 lines of ~1,020 characters ≈ 214 MB attempted. */
const LINES = 70_000;
const TICK_MS = 1_000;
const BASELINE_MS = 10_000;

const FLOOD = `
export const flood = {
  async execute(ctx) {
    const body = 'x'.repeat(1000);
    const lines = ctx.params.lines;
    ctx.log.info('flood first line');
    for (let i = 0; i < lines; i++) {
      ctx.log.info('ctx.log line ' + i + ' ' + body);
      if (i % 1000 === 0) await new Promise((resolve) => setTimeout(resolve, 40));
    }
    for (let i = 0; i < lines; i++) {
      console.log('console line ' + i + ' ' + body);
      if (i % 1000 === 0) await new Promise((resolve) => setTimeout(resolve, 40));
    }
    for (let i = 0; i < lines; i++) {
      process.stdout.write('stdout line ' + i + ' ' + body + '\\n');
      if (i % 1000 === 0) await new Promise((resolve) => setTimeout(resolve, 40));
    }
    ctx.log.info('flood last line');
    return 'flooded';
  },
};
export const tick = { execute() { return 'tick'; } };
`;

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? NaN;
}

const lagOf = (run: ContractRun): number => Date.parse(run.startedAt!) - Date.parse(run.scheduledAt);

for (const database of testDatabases()) {
  describe(`a log flood from one thread job (${database.name})`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    let dataDir: string;
    let host: SpawnedProject;
    let hostStdoutBytes = 0;

    before(async () => {
      made = await database.make();
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-flood-'));
      host = await spawnWithProject({ dataDir, db: made.db, project: 'flooder', code: FLOOD });
      host.child.stdout?.on('data', (chunk: Buffer) => (hostStdoutBytes += chunk.length));
      host.child.stderr?.resume();
    });

    after(async () => {
      host?.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
      await made?.drop();
    });

    test("keeps the head, the tail and a drop marker, and another project's job keeps firing", async () => {
      const calm = (await host.api.post('/api/v1/projects', { name: 'calm' })).body.id as number;
      assert.equal((await host.api.upload(calm, await threadBundle(FLOOD))).status, 201);
      const tick = await host.api.post('/api/v1/jobs', { projectId: calm, kind: 'thread', name: 'tick', entry: 'tick', schedule: { type: 'CRON', cron: '* * * * * *' }, concurrency: 'SKIP', start: true });
      assert.equal(tick.status, 201, tick.text);
      const floodJob = await host.job({ name: 'flood', entry: 'flood', params: { lines: LINES }, schedule: { type: 'MANUAL' }, timeoutMs: 120_000 });
      await sleep(1_000);
      const baselineFrom = Date.now();
      const rssBefore = rssMb(host.child.pid!);
      await sleep(BASELINE_MS);
      const baselineTo = Date.now();

      const stdoutBefore = hostStdoutBytes;
      const trigger = await host.api.post(`/api/v1/jobs/${floodJob}/trigger`);
      assert.equal(trigger.status, 202, trigger.text);
      const floodFrom = Date.now();
      let healthMaxMs = 0;
      let rssMax = 0;
      let ended: ContractRun | undefined;
      while (!ended) {
        const asked = performance.now();
        const health = await fetch(`${host.url}/healthz`);
        healthMaxMs = Math.max(healthMaxMs, performance.now() - asked);
        assert.equal(health.status, 200);
        rssMax = Math.max(rssMax, rssMb(host.child.pid!));
        const run = await host.api.get<ContractRun>(`/api/v1/runs/${trigger.body.runId}`);
        if (run.body.status !== 'RUNNING' && run.body.status !== 'QUEUED') ended = run.body;
        else await sleep(100);
      }
      const floodTo = Date.now();
      const flooded = await finishedRun(host.api, trigger.body.runId);
      assert.equal(flooded.status, 'SUCCEEDED', JSON.stringify(flooded.error));
      await sleep(TICK_MS * 2);

      const log = (await host.api.get(`/api/v1/runs/${flooded.runId}/log`)).text;
      // (assert.ok, not assert.match: a failure must not print a megabyte of log)
      const markers = log.split('\n').filter((line) => line.includes('[jobcenter:'));
      assert.ok(log.includes('flood first line'), 'the head is kept');
      assert.ok(log.includes('flood last line'), 'the tail is kept');
      assert.ok(log.includes('stdout line 69999 '), "process.stdout.write lands in the run's log");
      const dropped = markers
        .map((line) => /\[jobcenter: ([\d,]+) lines \(([\d,]+) bytes\) of this run's log were dropped in its worker: over its log cap of 1,048,576 bytes or its rate limit/.exec(line))
        .reduce((sum, match) => sum + (match ? Number(match[1].replaceAll(',', '')) : 0), 0);
      // What the host's own cap cut, if anything (blob/run-log-buffer.ts cutMarker).
      const cutByHost = Number(/… \[\d+ bytes \/ (\d+) lines cut\] …/.exec(log)?.[1] ?? 0);
      const keptLines = log.split('\n').filter((line) => / (ctx\.log|console|stdout) line \d+ /.test(line)).length;
      assert.ok(markers.length > 0, 'a marker says what was dropped');
      assert.equal(dropped + cutByHost + keptLines, 3 * LINES, `the markers count every line not kept (${markers.length} markers: ${markers.slice(0, 3).join(' | ')})`);
      assert.ok(log.length < 1.2 * 1024 * 1024, `the log is capped (${log.length} characters)`);
      const stdoutDuring = hostStdoutBytes - stdoutBefore;
      assert.ok(stdoutDuring < 64 * 1024, `the job's stdout did not reach the host's stdout (${stdoutDuring} bytes)`);

      const runs = (await listRuns(host.api, `jobId=${tick.body.id}&limit=1000`)).filter((run) => Date.parse(run.scheduledAt) >= baselineFrom);
      const during = runs.filter((run) => Date.parse(run.scheduledAt) >= floodFrom && Date.parse(run.scheduledAt) < floodTo);
      const baseline = runs.filter((run) => Date.parse(run.scheduledAt) < baselineTo);
      const notOk = during.filter((run) => run.status !== 'SUCCEEDED');
      assert.deepEqual(notOk.map((run) => `${run.status} ${run.scheduledAt}`), [], 'no fire of the other project was SKIPPED or failed during the flood');
      const expected = Math.floor((floodTo - floodFrom) / TICK_MS);
      assert.ok(during.length >= expected - 1, `the other project fired ${during.length} times in ${floodTo - floodFrom} ms`);
      assert.ok(healthMaxMs < 1_000, `/healthz answered within ${Math.round(healthMaxMs)} ms`);
      const figures = {
        database: database.name,
        floodMs: floodTo - floodFrom,
        attemptedMb: Math.round((3 * LINES * 1020) / 1e6),
        lagP99Before: p99(baseline.map(lagOf)),
        lagP99During: p99(during.map(lagOf)),
        firesDuring: during.length,
        healthMaxMs: Math.round(healthMaxMs),
        rssBeforeMb: Math.round(rssBefore),
        rssMaxMb: Math.round(rssMax),
        logChars: log.length,
      };
      // The figures of docs/isolation.md ("A job that floods its log") come from this line.
      console.log(`log flood figures: ${JSON.stringify(figures)}`);
    });
  });
}
