/** The console's dashboard: its route's description and its router. */
import { requireActor } from '../middleware.js';
import { json } from './common.js';
import type { ApiDeps } from './deps.js';
import { ref } from './schemas.js';
import type { DocumentedRouter, RouteSpec } from './spec.js';

export const DASHBOARD_ROUTES: RouteSpec[] = [
  {
    method: 'GET',
    path: '/api/v1/dashboard',
    tag: 'dashboard',
    summary: 'Jobs by state, the last day of runs, the slowest jobs, the latest failures, the next fires',
    description:
      "Figures over the caller's projects (a developer's own; everything for admins and viewers). Run figures come from rollups kept as runs end, not from the runs table.",
    auth: 'user',
    answers: { 200: json('the dashboard', ref('Dashboard')) },
  },
];

export function mountDashboardRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'dashboard'>): void {
  r.get('/dashboard', async (ctx) => {
    ctx.body = await deps.dashboard.get(requireActor(ctx));
  });
}
