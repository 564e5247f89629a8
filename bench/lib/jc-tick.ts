/**
 * JobCenter under workloads 1 (tick fidelity) and 5 (reload): N jobs firing every second, each returning
 * `Date.now() - ctx.scheduledAt` from its first line; the lags and the missed fires are read back from the run rows.
 */
import type { Host } from '../../host/main.js';
import type { Schedule } from '../../host/domain/index.js';
import { benchDb, benchProject, jcLabel, jobRow, JOB_CODE, projectRuns, startBenchHost, uploadVersion } from './jobcenter.js';
import { expectedFires, fireWindow, quantiles, sitThrough, waitUntil, type FireWindow, type Sample } from './measure.js';

export interface TickOptions {
  db: string;
  jobs: number;
  seconds: number;
  /** Spread: INTERVAL jobs of 1 s whose phases are spread evenly over the second, instead of one cron. */
  spread: boolean;
  /** Reload: upload a new bundle version half way through the window. */
  reload: boolean;
  /** Poll GET /api/v1/dashboard once a second through the window, as an open console does (`--variant dashboard`). */
  pollDashboard?: boolean;
}

/** Polls the dashboard once a second over HTTP until `length` ms have passed; resolves with the slowest answer (ms). */
async function pollDashboard(url: string, length: number): Promise<number> {
  const login = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'bench-password' }) });
  const { token } = (await login.json()) as { token: string };
  let slowest = 0;
  for (const end = Date.now() + length; Date.now() < end; ) {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/v1/dashboard`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    slowest = Math.max(slowest, performance.now() - t0);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return slowest;
}

async function scheduleJobs(host: Host, projectId: number, count: number, spread: boolean): Promise<number[]> {
  const { store, engine } = host.parts;
  const base = Math.ceil(Date.now() / 1000) * 1000;
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const schedule: Schedule = spread ? { type: 'INTERVAL', everyMs: 1000 } : { type: 'CRON', cron: '* * * * * *' };
    const row = jobRow(projectId, `tick-${i}`, 'thread', 'lag', schedule, 'ACTIVE');
    if (spread) row.anchorAt = new Date(base + Math.floor((i * 1000) / count));
    ids.push((await store.jobs.create(row)).id);
  }
  // One read for all: a read per job would queue behind the rows of the jobs already firing (minutes at 10,000).
  for (const job of await store.jobs.getMany(ids)) engine.schedule(job);
  return ids;
}

interface Readback {
  lags: number[];
  seen: number;
  failed: number;
  firstOnBundle: number | null;
}

async function readBack(host: Host, projectId: number, window: FireWindow, newBundleId: number | null): Promise<Readback> {
  const out: Readback = { lags: [], seen: 0, failed: 0, firstOnBundle: null };
  const keys = new Set<string>();
  await projectRuns(host, projectId, (run) => {
    const at = run.scheduledAt.getTime();
    if (newBundleId !== null && run.bundleId === newBundleId && (out.firstOnBundle === null || at < out.firstOnBundle)) out.firstOnBundle = at;
    if (at < window.from || at >= window.to) return;
    keys.add(`${run.jobId}:${at}`);
    if (run.status === 'SUCCEEDED' && run.result !== null) out.lags.push(Number(run.result));
    else out.failed++;
  });
  out.seen = keys.size;
  return out;
}

export async function jobCenterTick(opts: TickOptions): Promise<Sample[]> {
  const db = await benchDb(opts.db, 'tick');
  const bench = await startBenchHost(db.dbUrl);
  try {
    const { host } = bench;
    const projectId = await benchProject(host, 'thread');
    const ids = await scheduleJobs(host, projectId, opts.jobs, opts.spread);
    const window = fireWindow(opts.seconds, 1500);
    let upload: { at: number; ms: number; bundleId: number } | null = null;
    let dashboardMaxMs = Number.NaN;
    const polling = opts.pollDashboard
      ? async (length: number): Promise<void> => {
          dashboardMaxMs = await pollDashboard(bench.url, length);
        }
      : undefined;
    const during = opts.reload
      ? async (length: number): Promise<void> => {
          // Half way, and half way into a second, so the switch is not hidden by the 1 s tick.
          await new Promise((r) => setTimeout(r, length / 2 + 500));
          const at = Date.now();
          const bundleId = await uploadVersion(host, projectId, 'thread', `${JOB_CODE}\nexport const v2 = true;\n`, '2.0.0');
          upload = { at, ms: Date.now() - at, bundleId };
        }
      : polling;
    const { cpu, rss } = await sitThrough(window, 1500, during);
    for (const id of ids) host.parts.engine.forget(id);
    // A host that fell behind drains its backlog here; what is still queued after the bound counts as missed.
    const drained = await waitUntil(() => host.parts.dispatcher.activeCount === 0, 60_000, 20);
    await host.parts.store.runWriter.flush();
    const got = await readBack(host, projectId, window, (upload as { bundleId: number } | null)?.bundleId ?? null);
    const q = quantiles(got.lags);
    const missed = ids.length * expectedFires(window, 1000) - got.seen;
    // Fires the host dropped on purpose, by the bound that dropped them (docs/statuses.md, "Overload").
    const { in_flight: droppedInFlight, row_backlog: droppedRowBacklog } = host.parts.dispatcher.report.dropped;
    const metrics: Record<string, number> = {
      p50: q.p50, p99: q.p99, max: q.max, fires: got.lags.length, missed, cpu, rss, failed: got.failed, droppedInFlight, droppedRowBacklog,
    };
    if (opts.pollDashboard) metrics.dashboardMaxMs = dashboardMaxMs;
    if (opts.reload) {
      const u = upload as { at: number; ms: number; bundleId: number } | null;
      metrics.uploadMs = u?.ms ?? Number.NaN;
      // Switch time: from the start of the upload to the fire time of the first run on the new version.
      metrics.switchMs = u && got.firstOnBundle !== null ? Math.max(0, got.firstOnBundle - u.at) : Number.NaN;
    }
    return [{ subject: `${jcLabel(opts.db)}${opts.pollDashboard ? ', dashboard polled once a second' : ''}`, metrics, ...(drained ? {} : { note: 'runs still queued 60 s after the window closed' }) }];
  } finally {
    await bench.close();
    await db.drop();
  }
}
