/** The audit trail: what was done to a job or project, by whom. */

export type JobEventAction =
  | 'created'
  | 'updated'
  | 'started'
  | 'stopped'
  | 'triggered'
  | 'killed'
  | 'deleted'
  /** An admin changed whether the project is trusted (details: before, after); jobId is PROJECT_EVENT_JOB_ID. */
  | 'trust'
  /** A stored bundle version was made current (details: bundle before, after); jobId is PROJECT_EVENT_JOB_ID. */
  | 'activated';

/** The jobId of an event about a project itself rather than one of its jobs (job ids start at 1). */
export const PROJECT_EVENT_JOB_ID = 0;

export interface JobEventRecord {
  id: number;
  jobId: number;
  projectId: number;
  action: JobEventAction;
  /** Username, or 'system'. */
  actor: string;
  details: Record<string, unknown> | null;
  at: Date;
}
