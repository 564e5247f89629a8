/** The audit trail: what was done to which entity (a job, project, bundle, user account, login session, API token), by whom. */

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
  | 'activated'
  /** A bundle version was uploaded (entity bundle; details: version, sha256). */
  | 'uploaded'
  /** A user's password was set by an operator on the database (`jobcenter users reset-password`). */
  | 'password_reset'
  /** Sessions (entity session): a login, a refused login (details: reason), a logout. */
  | 'login'
  | 'login_failed'
  | 'logout'
  /** An API token was revoked by its owner, or with its user. */
  | 'revoked';

export type EventEntity = 'job' | 'project' | 'bundle' | 'user' | 'session' | 'token';
export const EVENT_ENTITIES: readonly EventEntity[] = ['job', 'project', 'bundle', 'user', 'session', 'token'];

/** The jobId of an event about a project itself rather than one of its jobs (job ids start at 1). */
export const PROJECT_EVENT_JOB_ID = 0;

export interface JobEventRecord {
  id: number;
  entity: EventEntity;
  /** The entity's id (a job, project, bundle, user or token id; a session's user id); null: unknown (a login to no user). */
  entityId: number | null;
  /** The job (0: the event is not about one job). */
  jobId: number;
  /** The project (0: the event is about an account, not a project). */
  projectId: number;
  /** The account an account event is about (it and admins may read the event); null for project events. */
  userId: number | null;
  action: JobEventAction;
  /** Username, or 'system'. */
  actor: string;
  details: Record<string, unknown> | null;
  at: Date;
}
