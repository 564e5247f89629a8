/** What the host is doing now, as numbers cheap to read (GET /metrics shows them). */
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { RunStatus } from '../domain/index.js';
import type { Store } from '../store/types.js';
import type { Engine } from './engine.js';

export interface HostMetrics {
  scheduledJobs: number;
  activeRuns: number;
  /** Scheduled fires dropped under overload, by why. */
  dropped: { in_flight: number; row_backlog: number; db_unavailable: number };
  caughtUp: number;
  missed: number;
  awaitingCatchUp: number;
  databaseUp: boolean;
  late: number;
  overloaded: boolean;
  rowBacklog: number;
  rowLagMs: number;
  /** Recorded runs by status; null while the database does not answer. */
  runCounts: Record<RunStatus, number> | null;
}

export async function readHostMetrics(deps: { store: Store; engine: Engine; dispatcher: Dispatcher }): Promise<HostMetrics> {
  const { store, dispatcher } = deps;
  // Metrics matter most while the database does not answer: its counts are left out then, nothing else.
  const runCounts = store.health.up ? await store.runs.countByStatus().catch(() => null) : null;
  const { dropped, late, overloaded } = dispatcher.report;
  const { missed } = dispatcher;
  return {
    scheduledJobs: deps.engine.scheduler.size,
    activeRuns: dispatcher.activeCount,
    dropped,
    caughtUp: missed.caughtUp,
    missed: missed.missed,
    awaitingCatchUp: missed.pending,
    databaseUp: store.health.up,
    late,
    overloaded,
    rowBacklog: store.runWriter.backlog,
    rowLagMs: store.runWriter.lagMs,
    runCounts,
  };
}
