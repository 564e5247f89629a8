/** What jobs and runs look like to clients. */
import type { BundleRecord, JobRecord, JobRunSummary, RunRecord } from '../domain/index.js';

/** `extra` adds fields only some answers carry (the main list's subJobCount; the list's and GET's run summary). */
export function presentJob(job: JobRecord, nextFireAt: Date | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...job, nextFireAt: nextFireAt ? nextFireAt.toISOString() : null, ...extra };
}

/** A job's runCounts and lastRun fields (GET /jobs, GET /jobs/:id); a job without runs has {} and null. */
export function presentRunSummary(summary: JobRunSummary | undefined): Record<string, unknown> {
  return { runCounts: summary?.runCounts ?? {}, lastRun: summary?.lastRun ?? null };
}

export function presentRun(run: RunRecord): Record<string, unknown> {
  const { logFile, logOffset: _offset, logLength, ...rest } = run;
  const durationMs = run.startedAt && run.endedAt ? run.endedAt.getTime() - new Date(run.startedAt).getTime() : null;
  return { ...rest, durationMs, logBytes: logFile ? logLength : 0 };
}

/**
 * A bundle version without the folder it is extracted to: where the host keeps files is not for clients. `current`:
 * whether it is the version the project's new runs use.
 */
export function presentBundle(bundle: BundleRecord, currentBundleId: number | null): Record<string, unknown> {
  const { dir: _dir, ...shown } = bundle;
  return { ...shown, current: bundle.id === currentBundleId };
}
