/** GET /metrics in the Prometheus text format: what the host is doing now, cheap to compute. */
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { Engine } from '../services/engine.js';
import type { Store } from '../store/types.js';

export async function renderMetrics(deps: { store: Store; engine: Engine; dispatcher: Dispatcher }): Promise<string> {
  const memory = process.memoryUsage();
  const counts = await deps.store.runs.countByStatus();
  const lines = [
    '# HELP jobcenter_scheduled_jobs Jobs on the schedule of this host.',
    '# TYPE jobcenter_scheduled_jobs gauge',
    `jobcenter_scheduled_jobs ${deps.engine.scheduler.size}`,
    '# HELP jobcenter_active_runs Runs running or queued on this host.',
    '# TYPE jobcenter_active_runs gauge',
    `jobcenter_active_runs ${deps.dispatcher.activeCount}`,
    '# HELP jobcenter_fires_dropped_total Scheduled fires this host dropped under overload, by why.',
    '# TYPE jobcenter_fires_dropped_total counter',
    `jobcenter_fires_dropped_total{reason="max_runs_in_flight"} ${deps.dispatcher.report.dropped.in_flight}`,
    `jobcenter_fires_dropped_total{reason="row_backlog"} ${deps.dispatcher.report.dropped.row_backlog}`,
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
    ...Object.entries(counts).map(([status, n]) => `jobcenter_runs{status="${status}"} ${n}`),
    '# HELP process_resident_memory_bytes Resident memory of the host process.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${memory.rss}`,
    '# HELP nodejs_heap_used_bytes V8 heap in use.',
    '# TYPE nodejs_heap_used_bytes gauge',
    `nodejs_heap_used_bytes ${memory.heapUsed}`,
  ];
  return `${lines.join('\n')}\n`;
}
