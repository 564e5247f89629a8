/** What jobs and runs look like to clients. */
import type { JobRecord, RunRecord } from '../store/types.js';

export function presentJob(job: JobRecord, nextFireAt: Date | null): Record<string, unknown> {
  return { ...job, nextFireAt: nextFireAt ? nextFireAt.toISOString() : null };
}

export function presentRun(run: RunRecord): Record<string, unknown> {
  const { logFile, logOffset: _offset, logLength, ...rest } = run;
  const durationMs = run.startedAt && run.endedAt ? run.endedAt.getTime() - new Date(run.startedAt).getTime() : null;
  return { ...rest, durationMs, logBytes: logFile ? logLength : 0 };
}
