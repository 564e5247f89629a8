/**
 * JobCenter under workload 4: the latency of one run at a time of an empty job of one kind (fire → row committed
 * → executed → final row queued), and the memory each loaded project adds. A kind the host cannot run yet
 * (module and isolate are being built) is reported as such, not measured.
 */
import type { Host } from '../../host/main.js';
import type { JobRecord } from '../../host/domain/index.js';
import { benchDb, benchProject, jcLabel, notSupported, startBenchHost } from './jobcenter.js';
import { quantiles, rssMb, sleep, type Sample } from './measure.js';

export interface IsolationOptions {
  db: string;
  kind: string;
  runs: number;
  projects: number;
}

/** Waits for the run's end without polling (a polling loop would take a core from an exec run's process). */
async function runOnce(host: Host, job: JobRecord): Promise<number> {
  const { dispatcher } = host.parts;
  const t0 = performance.now();
  const fired = await dispatcher.fire({ job, trigger: 'MANUAL', scheduledAt: new Date() });
  if (!fired) throw new Error('the run was not accepted');
  await dispatcher.ended(fired.runId);
  return performance.now() - t0;
}

async function makeJob(host: Host, kind: string, name: string): Promise<JobRecord> {
  const projectId = await benchProject(host, kind, name);
  const entry = kind === 'exec' ? ['/bin/true'] : 'noop';
  return host.parts.jobs.create(null, { projectId, name: 'noop', kind, entry, schedule: { type: 'MANUAL' }, concurrency: 'ALLOW' });
}

/** Loads `count` more projects (one run each, so each project's pool or isolate exists) and returns MB per project. */
async function memoryPerProject(host: Host, kind: string, count: number): Promise<number> {
  await sleep(500);
  const before = rssMb();
  for (let i = 0; i < count; i++) await runOnce(host, await makeJob(host, kind, `mem-${i}`));
  await sleep(1000);
  return (rssMb() - before) / count;
}

export async function jobCenterIsolation(opts: IsolationOptions): Promise<Sample[]> {
  const db = await benchDb(opts.db, 'iso');
  const bench = await startBenchHost(db.dbUrl);
  const subject = `${jcLabel(opts.db)} ${opts.kind}`;
  try {
    let job: JobRecord;
    try {
      job = await makeJob(bench.host, opts.kind, 'bench');
    } catch (err) {
      if (notSupported(err)) return [{ subject, metrics: {}, note: `not supported by this host yet: ${(err as Error).message}` }];
      throw err;
    }
    for (let i = 0; i < Math.min(100, opts.runs); i++) await runOnce(bench.host, job);
    const samples: number[] = [];
    for (let i = 0; i < opts.runs; i++) samples.push(await runOnce(bench.host, job));
    const q = quantiles(samples);
    // A run is over once its final row is queued (dispatch/run-life.ts): commit the last one before counting.
    await bench.host.parts.store.runWriter.flush();
    const row = (await bench.host.parts.store.runs.countByStatus(job.id)).SUCCEEDED;
    const metrics: Record<string, number> = { p50Us: q.p50 * 1000, p99Us: q.p99 * 1000, succeeded: row };
    // An exec run is a process that ends with the run; nothing stays loaded per project.
    if (opts.kind !== 'exec') metrics.mbPerProject = await memoryPerProject(bench.host, opts.kind, opts.projects);
    return [{ subject, metrics }];
  } finally {
    await bench.close();
    await db.drop();
  }
}
