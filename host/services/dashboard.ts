/**
 * The console's dashboard: what the actor may see of the host at a glance. Run figures come from the run rollups
 * (store/run-rollups.ts, counted as rows end), never from a scan of the runs table; the next fires from the
 * scheduler's heap in memory; the failures from one index seek per failed status.
 */
import type { RunStatus } from '../domain/index.js';
import type { RollupDay, Store } from '../store/types.js';
import type { Access } from './access.js';
import type { Actor } from './auth.js';
import type { Engine } from './engine.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const SERIES_MINUTES = 60;
const TOP = 5;
const LATEST = 10;
const FAILED: RunStatus[] = ['FAILED', 'TIMED_OUT', 'KILLED', 'INTERRUPTED'];

export interface Dashboard {
  generatedAt: string;
  jobsByState: Record<string, number>;
  runs24h: { total: number; byStatus: Record<string, number>; successRate: number | null };
  slowest: { jobId: number; jobName: string; projectId: number; runs: number; avgMs: number; maxMs: number }[];
  failures: { runId: string; jobId: number; jobName: string; status: RunStatus; endedAt: string | null; error: string | null }[];
  nextFires: { jobId: number; jobName: string; at: string }[];
  series: { minutes: number[]; runs: number[]; fireLagP95Ms: (number | null)[] };
}

export interface DashboardDeps {
  store: Store;
  access: Access;
  engine: Pick<Engine, 'nextFires'>;
  /** How long one scope's dashboard is served again (default 1 s; 0: never). */
  cacheMs?: number;
  /** How long one scope's day figures (runs24h, slowest) are kept (default 15 s; 0: never). */
  dayCacheMs?: number;
}

/** Scopes remembered at most: a developer's each, and one for everybody who sees all projects. */
const MAX_CACHED = 200;

export class DashboardService {
  private readonly cached = new Map<string, { at: number; value: Promise<Dashboard> }>();
  private readonly days = new Map<string, { at: number; value: Promise<RollupDay> }>();

  constructor(private readonly deps: DashboardDeps) {}

  /**
   * Every console tab polls it: what one scope (all projects, or one developer's) was given within the last
   * cacheMs is given again, and requests that come while it is being made share it. The day figures, a scan of some
   * 35,000 hour buckets with 10,000 jobs (most of a dashboard's cost), are kept for dayCacheMs.
   */
  async get(actor: Actor): Promise<Dashboard> {
    const projectIds = await this.deps.access.visibleProjectIds(actor);
    const key = projectIds ? `developer ${actor.id}` : 'all';
    return remembered(this.cached, key, this.deps.cacheMs ?? 1_000, () => this.make(key, projectIds));
  }

  private async make(key: string, projectIds: number[] | undefined): Promise<Dashboard> {
    const { store, engine } = this.deps;
    const now = new Date();
    const thisMinute = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS;
    const firstMinute = thisMinute - (SERIES_MINUTES - 1) * MINUTE_MS;
    // The day is the current hour and the 24 before it: whole hour buckets, so 24 to 25 hours of runs.
    const firstHour = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - 24 * HOUR_MS;
    const [jobsByState, day, minuteRows, failed] = await Promise.all([
      store.jobs.countByState(projectIds),
      remembered(this.days, key, this.deps.dayCacheMs ?? 15_000, () => store.rollups.day({ projectIds, hoursSince: new Date(firstHour), slowest: TOP })),
      store.rollups.minutes({ projectIds, minutesSince: new Date(firstMinute) }),
      store.runs.latestInStatuses(FAILED, projectIds, LATEST),
    ]);
    const rollups = { ...day, minutes: minuteRows };
    const fires = engine.nextFires(LATEST, projectIds);
    const names = await this.jobNames([...rollups.slowest.map((s) => s.jobId), ...failed.map((r) => r.jobId), ...fires.map((f) => f.jobId)]);
    const name = (jobId: number): string => names.get(jobId) ?? `job ${jobId} (deleted)`;

    const total = Object.values(rollups.byStatus).reduce((a, b) => a + b, 0);
    const ran = total - (rollups.byStatus.SKIPPED ?? 0);
    const perMinute = new Map(rollups.minutes.map((m) => [m.bucket, m]));
    const minutes = Array.from({ length: SERIES_MINUTES }, (_, i) => firstMinute + i * MINUTE_MS);
    return {
      generatedAt: now.toISOString(),
      jobsByState,
      runs24h: { total, byStatus: rollups.byStatus, successRate: ran > 0 ? (rollups.byStatus.SUCCEEDED ?? 0) / ran : null },
      slowest: rollups.slowest.map((s) => ({ jobId: s.jobId, jobName: name(s.jobId), projectId: s.projectId, runs: s.runs, avgMs: Math.round(s.avgMs), maxMs: s.maxMs })),
      failures: failed.map((run) => ({
        runId: run.runId,
        jobId: run.jobId,
        jobName: name(run.jobId),
        status: run.status,
        endedAt: run.endedAt?.toISOString() ?? null,
        error: run.error?.message ?? null,
      })),
      nextFires: fires.map((fire) => ({ jobId: fire.jobId, jobName: name(fire.jobId), at: fire.at.toISOString() })),
      series: {
        minutes,
        runs: minutes.map((m) => perMinute.get(m)?.runs ?? 0),
        fireLagP95Ms: minutes.map((m) => perMinute.get(m)?.lagP95Ms ?? null),
      },
    };
  }

  private async jobNames(ids: number[]): Promise<Map<number, string>> {
    const jobs = await this.deps.store.jobs.getMany([...new Set(ids)]);
    return new Map(jobs.map((job) => [job.id, job.name]));
  }
}

/** The value kept under key if it was made less than ms ago, else a new one (kept unless it fails). */
function remembered<T>(cache: Map<string, { at: number; value: Promise<T> }>, key: string, ms: number, make: () => Promise<T>): Promise<T> {
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && now - hit.at < ms) return hit.value;
  if (cache.size >= MAX_CACHED) cache.clear();
  const value = make();
  cache.set(key, { at: now, value });
  value.catch(() => cache.get(key)?.value === value && cache.delete(key));
  return value;
}
