/** GET /: the dashboard, from the same DashboardService as GET /api/v1/dashboard (its figures, the caller's projects). */
import type Router from '@koa/router';
import { actorOf } from './guard.js';
import type { ConsoleContext } from './context.js';

const STATES = ['ACTIVE', 'PENDING', 'STOPPED'];
const STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'KILLED', 'INTERRUPTED', 'SKIPPED', 'RUNNING', 'QUEUED'];

export function mountDashboardPage(router: Router, { deps, pages }: ConsoleContext): void {
  router.get('/', async (ctx) => {
    const dash = await deps.dashboard.get(actorOf(ctx)!);
    const jobs = STATES.map((state) => ({ state, count: dash.jobsByState[state] ?? 0 }));
    const totalJobs = jobs.reduce((sum, s) => sum + s.count, 0);
    const byStatus = STATUSES.filter((s) => dash.runs24h.byStatus[s]).map((status) => ({ status, count: dash.runs24h.byStatus[status] }));
    pages.show(ctx, 'dashboard', 'Dashboard', {
      dash,
      jobs,
      totalJobs,
      byStatus,
      series: JSON.stringify(dash.series),
      charts: true,
      scripts: ['uPlot.iife.min.js', 'dashboard.js'],
    });
  });
}
