/** What the REST routers are given by the composition root: the services, and two views of the running host. */
import type { HostConfig } from '../../config/index.js';
import type { Access } from '../../services/access.js';
import type { AuthService } from '../../services/auth.js';
import type { DashboardService } from '../../services/dashboard.js';
import type { EventService } from '../../services/events.js';
import type { JobService } from '../../services/jobs.js';
import type { ProjectService } from '../../services/projects.js';
import type { RunService } from '../../services/runs.js';

export interface ApiDeps {
  config: HostConfig;
  auth: AuthService;
  access: Access;
  events: EventService;
  dashboard: DashboardService;
  projects: ProjectService;
  jobs: JobService;
  runs: RunService;
  nextFireOf(jobId: number): Date | null;
  /** This host as GET /api/v1/hosts shows it (one host; the cluster lists more). */
  hostInfo(): Record<string, unknown>;
}
