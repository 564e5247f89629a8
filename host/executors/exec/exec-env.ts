/**
 * What an exec run receives besides its argv: environment variables and a JSON file with the run's context.
 * The host's own JOBCENTER_* variables (admin password, database URL) never reach the child.
 */
import type { RunRequest } from '../shared/executor.js';

/** The JSON file JOBCENTER_CONFIG_FILE points at. */
export interface ExecRunFile {
  readonly runId: string;
  readonly job: { readonly id: number; readonly name: string; readonly project: string };
  readonly params: unknown;
  readonly config: Readonly<Record<string, string>>;
  readonly scheduledAt: string;
  readonly attempt: number;
}

export function execRunFile(request: RunRequest): ExecRunFile {
  return {
    runId: request.runId,
    job: { id: request.job.id, name: request.job.name, project: request.job.project },
    params: request.params,
    config: request.config,
    scheduledAt: request.scheduledAt.toISOString(),
    attempt: request.attempt,
  };
}

/** `db.url` → `JOBCENTER_CONFIG_DB_URL`. */
export function configEnvName(key: string): string {
  return `JOBCENTER_CONFIG_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** jobEnv is HostConfig.jobEnv: the host's environment without its JOBCENTER_* variables. */
export function execEnv(jobEnv: Readonly<Record<string, string>>, request: RunRequest, configFile: string): Record<string, string> {
  const env: Record<string, string> = { ...jobEnv };
  for (const [key, value] of Object.entries(request.config)) env[configEnvName(key)] = value;
  Object.assign(env, {
    JOBCENTER_RUN_ID: request.runId,
    JOBCENTER_JOB_ID: String(request.job.id),
    JOBCENTER_JOB_NAME: request.job.name,
    JOBCENTER_PROJECT: request.job.project,
    JOBCENTER_SCHEDULED_AT: request.scheduledAt.toISOString(),
    JOBCENTER_ATTEMPT: String(request.attempt),
    JOBCENTER_PARAMS: JSON.stringify(request.params ?? null),
    JOBCENTER_CONFIG_FILE: configFile,
  });
  return env;
}
