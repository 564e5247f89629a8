/** GET /metrics in the Prometheus text format: what the host is doing now, cheap to compute. */
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { Engine } from '../services/engine.js';
import type { Store } from '../store/types.js';

export async function renderMetrics(deps: { store: Store; engine: Engine; dispatcher: Dispatcher }): Promise<string> {
  const memory = process.memoryUsage();
  // Metrics matter most while the database does not answer: its counts are left out then, nothing else.
  const counts = deps.store.health.up ? await deps.store.runs.countByStatus().catch(() => null) : null;
  const { dropped } = deps.dispatcher.report;
  const { missed } = deps.dispatcher;
  const lines = [
    '# HELP jobcenter_scheduled_jobs Jobs on the schedule of this host.',
    '# TYPE jobcenter_scheduled_jobs gauge',
    `jobcenter_scheduled_jobs ${deps.engine.scheduler.size}`,
    '# HELP jobcenter_active_runs Runs running or queued on this host.',
    '# TYPE jobcenter_active_runs gauge',
    `jobcenter_active_runs ${deps.dispatcher.activeCount}`,
    '# HELP jobcenter_fires_dropped_total Scheduled fires this host dropped under overload, by why.',
    '# TYPE jobcenter_fires_dropped_total counter',
    `jobcenter_fires_dropped_total{reason="max_runs_in_flight"} ${dropped.in_flight}`,
    `jobcenter_fires_dropped_total{reason="row_backlog"} ${dropped.row_backlog}`,
    `jobcenter_fires_dropped_total{reason="db_unavailable"} ${dropped.db_unavailable}`,
    '# HELP jobcenter_fires_caught_up_total Fires dropped for the database (row_backlog, db_unavailable) run later under their misfire policy.',
    '# TYPE jobcenter_fires_caught_up_total counter',
    `jobcenter_fires_caught_up_total ${missed.caughtUp}`,
    '# HELP jobcenter_fires_missed_total Fires dropped for the database that their misfire policy did not run (or whose job left the schedule).',
    '# TYPE jobcenter_fires_missed_total counter',
    `jobcenter_fires_missed_total ${missed.missed}`,
    '# HELP jobcenter_fires_awaiting_catch_up Fires dropped for the database, noted and not yet caught up or counted missed.',
    '# TYPE jobcenter_fires_awaiting_catch_up gauge',
    `jobcenter_fires_awaiting_catch_up ${missed.pending}`,
    '# HELP jobcenter_database_up 1 while the database answers.',
    '# TYPE jobcenter_database_up gauge',
    `jobcenter_database_up ${deps.store.health.up ? 1 : 0}`,
    '# HELP jobcenter_fires_late_total Scheduled runs that started a second or more after their fire time.',
    '# TYPE jobcenter_fires_late_total counter',
    `jobcenter_fires_late_total ${deps.dispatcher.report.late}`,
    '# HELP jobcenter_overloaded 1 while this host drops fires or starts runs late (until a 5 s window passes clean).',
    '# TYPE jobcenter_overloaded gauge',
    `jobcenter_overloaded ${deps.dispatcher.report.overloaded ? 1 : 0}`,
    '# HELP jobcenter_run_row_backlog Run rows queued and not yet written to the database.',
    '# TYPE jobcenter_run_row_backlog gauge',
    `jobcenter_run_row_backlog ${deps.store.runWriter.backlog}`,
    '# HELP jobcenter_run_row_lag_seconds How long the oldest run row waiting to be written has waited.',
    '# TYPE jobcenter_run_row_lag_seconds gauge',
    `jobcenter_run_row_lag_seconds ${deps.store.runWriter.lagMs / 1000}`,
    '# HELP jobcenter_runs Recorded runs by status.',
    '# TYPE jobcenter_runs gauge',
    ...(counts ? Object.entries(counts).map(([status, n]) => `jobcenter_runs{status="${status}"} ${n}`) : []),
    '# HELP process_resident_memory_bytes Resident memory of the host process.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${memory.rss}`,
    '# HELP nodejs_heap_used_bytes V8 heap in use.',
    '# TYPE nodejs_heap_used_bytes gauge',
    `nodejs_heap_used_bytes ${memory.heapUsed}`,
  ];
  return `${lines.join('\n')}\n`;
}
