/**
 * JobCenter under workload 2: N manual runs of an empty thread job as fast as the host accepts them, every run
 * recorded (row inserted before it runs, finished after) and logged. In-process through `dispatcher.fire`, as
 * the first host-core bench measured it, or through `POST /api/v1/jobs/:id/trigger` with a bounded number of requests
 * in flight, sent from a worker thread (rest-client.ts).
 */
import type { Host } from '../../host/main.js';
import { benchDb, benchProject, jcLabel, startBenchHost } from './jobcenter.js';
import { sleep, waitUntil, type Sample } from './measure.js';
import { restClient } from './rest-client.js';

export interface ThroughputOptions {
  db: string;
  runs: number;
  via: 'fire' | 'rest';
}

/** In flight at once: the same 256 lanes as the raw piscina limit, 32 HTTP requests for the REST API. */
const FIRE_LANES = 256;
const REST_LANES = 32;
/** Keeps the in-memory backlog bounded, as a caller with backpressure would. */
const MAX_ACTIVE = 2_000;

async function fireLanes(host: Host, jobId: number, runs: number): Promise<void> {
  const { dispatcher, store } = host.parts;
  const job = (await store.jobs.get(jobId))!;
  let fired = 0;
  const lane = async (): Promise<void> => {
    while (fired < runs) {
      fired++;
      while (dispatcher.activeCount > MAX_ACTIVE) await sleep(1);
      await dispatcher.fire({ job, trigger: 'MANUAL', scheduledAt: new Date() });
    }
  };
  await Promise.all(Array.from({ length: FIRE_LANES }, lane));
}

export async function jobCenterThroughput(opts: ThroughputOptions): Promise<Sample[]> {
  const db = await benchDb(opts.db, 'tput');
  const bench = await startBenchHost(db.dbUrl);
  try {
    const { host } = bench;
    const projectId = await benchProject(host, 'thread');
    const job = await host.parts.jobs.create(null, { projectId, name: 'noop', kind: 'thread', entry: 'noop', schedule: { type: 'MANUAL' }, concurrency: 'ALLOW' });
    const { url } = await host.start();
    // Warm-up: the pool's threads start and the bundle loads before the clock runs.
    await fireLanes(host, job.id, 200);
    await waitUntil(() => host.parts.dispatcher.activeCount === 0, 30_000);
    await host.parts.store.runWriter.flush();
    const before = await host.parts.store.runs.countByStatus(job.id);
    const started = performance.now();
    const refused = opts.via === 'fire' ? (await fireLanes(host, job.id, opts.runs), 0) : await restClient({ url, jobId: job.id, runs: opts.runs, lanes: REST_LANES });
    const acceptedMs = performance.now() - started;
    await waitUntil(() => host.parts.dispatcher.activeCount === 0, 120_000, 2);
    await host.parts.store.runWriter.flush();
    const elapsed = performance.now() - started;
    const after = await host.parts.store.runs.countByStatus(job.id);
    const succeeded = after.SUCCEEDED - before.SUCCEEDED;
    const metrics = { runsPerSec: succeeded / (elapsed / 1000), drainMs: elapsed - acceptedMs, runs: succeeded, refused };
    const note = succeeded === opts.runs ? undefined : `${opts.runs - succeeded} of ${opts.runs} runs did not end SUCCEEDED`;
    return [{ subject: `${jcLabel(opts.db)}, ${opts.via === 'fire' ? 'dispatcher.fire' : 'REST trigger'}`, metrics, ...(note ? { note } : {}) }];
  } finally {
    await bench.close();
    await db.drop();
  }
}
