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
