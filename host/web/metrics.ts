/** GET /metrics in the Prometheus text format. */
import type { HostMetrics } from '../services/metrics.js';

/** One metric: its HELP and TYPE lines, then a sample per label set ('' for none). */
function metric(name: string, type: 'gauge' | 'counter', help: string, samples: Record<string, number | boolean>): string[] {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of Object.entries(samples)) lines.push(`${name}${labels} ${typeof value === 'boolean' ? (value ? 1 : 0) : value}`);
  return lines;
}

export function renderMetrics(host: HostMetrics): string {
  const memory = process.memoryUsage();
  const { dropped } = host;
  const lines = [
    ...metric('jobcenter_scheduled_jobs', 'gauge', 'Jobs on the schedule of this host.', { '': host.scheduledJobs }),
    ...metric('jobcenter_active_runs', 'gauge', 'Runs running or queued on this host.', { '': host.activeRuns }),
    ...metric('jobcenter_fires_dropped_total', 'counter', 'Scheduled fires this host dropped under overload, by why.', {
      '{reason="max_runs_in_flight"}': dropped.in_flight,
      '{reason="row_backlog"}': dropped.row_backlog,
      '{reason="db_unavailable"}': dropped.db_unavailable,
    }),
    ...metric('jobcenter_fires_caught_up_total', 'counter', 'Fires dropped for the database (row_backlog, db_unavailable) run later under their misfire policy.', {
      '': host.caughtUp,
    }),
    ...metric('jobcenter_fires_missed_total', 'counter', 'Fires dropped for the database that their misfire policy did not run (or whose job left the schedule).', {
      '': host.missed,
    }),
    ...metric('jobcenter_fires_awaiting_catch_up', 'gauge', 'Fires dropped for the database, noted and not yet caught up or counted missed.', {
      '': host.awaitingCatchUp,
    }),
    ...metric('jobcenter_database_up', 'gauge', '1 while the database answers.', { '': host.databaseUp }),
    ...metric('jobcenter_fires_late_total', 'counter', 'Scheduled runs that started a second or more after their fire time.', { '': host.late }),
    ...metric('jobcenter_overloaded', 'gauge', '1 while this host drops fires or starts runs late (until a 5 s window passes clean).', { '': host.overloaded }),
    ...metric('jobcenter_run_row_backlog', 'gauge', 'Run rows queued and not yet written to the database.', { '': host.rowBacklog }),
    ...metric('jobcenter_run_row_lag_seconds', 'gauge', 'How long the oldest run row waiting to be written has waited.', {
      '': host.rowLagMs / 1000,
    }),
    ...metric('jobcenter_runs', 'gauge', 'Recorded runs by status.', Object.fromEntries(Object.entries(host.runCounts ?? {}).map(([status, n]) => [`{status="${status}"}`, n]))),
    ...metric('process_resident_memory_bytes', 'gauge', 'Resident memory of the host process.', { '': memory.rss }),
    ...metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.', { '': memory.heapUsed }),
  ];
  return `${lines.join('\n')}\n`;
}
