/**
 * The repository interfaces the rest of the host sees; the records they hold are the domain's (host/domain).
 * Only host/store implements them (and only host/store imports sequelize).
 */
import type {
  BundleRecord,
  EventEntity,
  HostIdentity,
  HostRecord,
  JobEventRecord,
  JobKind,
  JobRecord,
  JobRunSummary,
  JobSchedule,
  JobState,
  LeaseClaim,
  ProjectRecord,
  RunRecord,
  RunStatus,
  RunTrigger,
  RunUpdate,
  TokenRecord,
  UserRecord,
} from '../domain/index.js';
import type { StoreCapabilities } from './capabilities.js';
import type { DatabaseHealth } from './health.js';

export type { DatabaseHealth };

export interface RunQuery {
  jobId?: number;
  projectIds?: number[];
  status?: RunStatus[];
  trigger?: RunTrigger[];
  from?: Date;
  to?: Date;
  limit: number;
  /** Opaque cursor returned by the previous page. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A page of a list ordered by id ascending: rows with an id above afterId, at most limit of them. */
export interface IdPage {
  afterId?: number;
  limit?: number;
}

export type NewUser = Omit<UserRecord, 'id' | 'createdAt' | 'lastLoginAt'>;
export type NewProject = Omit<ProjectRecord, 'id' | 'createdAt' | 'updatedAt' | 'currentBundleId' | 'trusted'> & { trusted?: boolean };
export type NewBundle = Omit<BundleRecord, 'id' | 'createdAt' | 'version'>;
export type NewJob = Omit<JobRecord, 'id' | 'createdAt' | 'updatedAt'>;
export type NewToken = Omit<TokenRecord, 'id' | 'createdAt' | 'lastUsedAt'>;

export interface UserRepo {
  create(user: NewUser): Promise<UserRecord>;
  get(id: number): Promise<UserRecord | null>;
  findByUsername(username: string): Promise<UserRecord | null>;
  list(): Promise<UserRecord[]>;
  update(id: number, patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'lastLoginAt'>>): Promise<UserRecord | null>;
  count(): Promise<number>;
  /** Deletes the user row only (the caller deletes its tokens first). */
  delete(id: number): Promise<void>;
}

export interface TokenRepo {
  create(token: NewToken): Promise<TokenRecord>;
  findByHash(tokenHash: string): Promise<TokenRecord | null>;
  listForUser(userId: number): Promise<TokenRecord[]>;
  /** Deletes only when the token belongs to userId; returns whether a row went. */
  delete(id: number, userId: number): Promise<boolean>;
  /** Deletes the token with this hash; returns whether a row went. */
  deleteByHash(tokenHash: string): Promise<boolean>;
  /** Deletes every token of the user (sessions and API tokens) but the one with exceptHash; returns how many went. */
  deleteForUser(userId: number, exceptHash?: string): Promise<number>;
  touch(id: number, at: Date): Promise<void>;
}

export interface ProjectRepo {
  create(project: NewProject): Promise<ProjectRecord>;
  get(id: number): Promise<ProjectRecord | null>;
  findByName(name: string): Promise<ProjectRecord | null>;
  /** ownerId undefined: all projects. */
  list(ownerId?: number): Promise<ProjectRecord[]>;
  /** A page of projects by id, optionally only an owner's and those whose name contains a text (any case). */
  page(filter: IdPage & { ownerId?: number; nameContains?: string }): Promise<ProjectRecord[]>;
  update(id: number, patch: Partial<Pick<ProjectRecord, 'name' | 'description' | 'currentBundleId' | 'ownerId' | 'trusted'>>): Promise<ProjectRecord | null>;
  /** Deletes the project with its bundles, jobs, runs, events, run rollups and cache rows. */
  delete(id: number): Promise<void>;
}

export interface BundleRepo {
  /** Assigns the next version number of the project. */
  create(bundle: NewBundle): Promise<BundleRecord>;
  get(id: number): Promise<BundleRecord | null>;
  listForProject(projectId: number): Promise<BundleRecord[]>;
  delete(id: number): Promise<void>;
}

export interface JobRepo {
  create(job: NewJob): Promise<JobRecord>;
  get(id: number): Promise<JobRecord | null>;
  findByName(projectId: number, name: string): Promise<JobRecord | null>;
  /** In id order; `nameContains` matches any case, and `%` or `_` in it are plain characters. */
  list(
    filter: { projectIds?: number[]; resolverId?: number | null; states?: JobState[]; kinds?: JobKind[]; nameContains?: string } & IdPage,
  ): Promise<JobRecord[]>;
  /**
   * What putting a job on the schedule needs, for up to `limit` jobs in these states with an id above `afterId`, in
   * id order: a start-up loads them a page at a time.
   */
  listSchedules(filter: { states: JobState[]; afterId: number; limit: number }): Promise<JobSchedule[]>;
  /** The jobs of these ids that exist, in no particular order. */
  getMany(ids: number[]): Promise<JobRecord[]>;
  update(id: number, patch: Partial<Omit<JobRecord, 'id' | 'createdAt' | 'updatedAt' | 'projectId'>>): Promise<JobRecord | null>;
  delete(id: number): Promise<void>;
  countForBundleProject(projectId: number): Promise<number>;
  /** How many jobs (sub-jobs included) are in each state, of these projects or all. */
  countByState(projectIds?: number[]): Promise<Record<string, number>>;
  /** Sub-job counts of these resolvers (disabled sub-jobs included); a job without sub-jobs is absent from the map. */
  countByResolver(resolverIds: number[]): Promise<Map<number, number>>;
}

export interface RunRepo {
  get(runId: string): Promise<RunRecord | null>;
  list(query: RunQuery): Promise<Page<RunRecord>>;
  /** Runs in any of these statuses (for recovery). */
  findByStatus(statuses: RunStatus[]): Promise<RunRecord[]>;
  /** For each job, the latest scheduledAt of its SCHEDULE/RECOVERY runs: where missed fire times start. */
  lastScheduledFireTimes(jobIds: number[]): Promise<Map<number, Date>>;
  countByStatus(jobId?: number): Promise<Record<RunStatus, number>>;
  /** The newest runs (by scheduledAt) in any of these statuses, each status sought on its own index range. */
  latestInStatuses(statuses: RunStatus[], projectIds: number[] | undefined, limit: number): Promise<RunRecord[]>;
  /**
   * Run counts and the latest run of each of these jobs, in two queries (read at once) over the runs' job indexes. Rows written
   * ahead for a fire whose time has not come (scheduledAt after `now`) are left out. Jobs without runs are absent.
   */
  summarize(jobIds: number[], now: Date): Promise<Map<number, JobRunSummary>>;
  /**
   * Deletes rows written ahead for fires that never started (status QUEUED, no startedAt, trigger SCHEDULE): the
   * given ones (their job stopped, the host is stopping), or all planned for after a time (recovery). Returns how many.
   */
  deletePlanned(filter: { runIds?: string[]; scheduledAfter?: Date }): Promise<number>;
}

/**
 * Group commit for run rows: calls are queued and written in batches (bulk insert / upsert of up to 1,000 rows).
 * Each promise resolves once its row is committed, so a caller can wait for the row before starting the run.
 */
export interface RunWriter {
  /** Inserts the row; rejects with code 'DUPLICATE_FIRE' when (jobId, scheduledAt) for a SCHEDULE run exists. */
  insert(run: RunRecord): Promise<void>;
  update(update: RunUpdate): Promise<void>;
  /**
   * Waits until everything queued so far is committed; false when the database did not answer within maxWaitMs
   * (rows are kept while it is down, and written when it is back).
   */
  flush(maxWaitMs?: number): Promise<boolean>;
  /** Rows queued and not written yet. */
  readonly backlog: number;
  /** How long the oldest of them has waited (0 when none): how far the database is behind. */
  readonly lagMs: number;
}

/** A new event: a job event by default (entity job, entityId its jobId; jobId 0: the project's own event). */
export type NewEvent = Omit<JobEventRecord, 'id' | 'at' | 'entity' | 'entityId' | 'userId'> &
  Partial<Pick<JobEventRecord, 'entity' | 'entityId' | 'userId'>> & { at?: Date };

export interface EventQuery {
  entity?: EventEntity;
  entityId?: number;
  jobId?: number;
  projectId?: number;
  /** What the reader may see: events of these projects only; undefined: of every project. */
  projectIds?: number[];
  /** Account events (project 0) of this user only; undefined: of every account. */
  accountUserId?: number;
  actor?: string;
  /** at ≥ from, at < to. */
  from?: Date;
  to?: Date;
  /** Events older than this one (ids only grow). */
  beforeId?: number;
  limit: number;
}

export interface EventRepo {
  add(event: NewEvent): Promise<void>;
  /** Newest first (by id). */
  list(filter: EventQuery): Promise<JobEventRecord[]>;
}

/** What the dashboard reads of the run rollups (store/run-rollups.ts): final runs by the bucket they ended in. */
export interface RollupDay {
  byStatus: Record<string, number>;
  slowest: { jobId: number; projectId: number; runs: number; avgMs: number; maxMs: number }[];
}

/** A minute with final runs: the bucket's start (epoch ms), its runs, its fire-lag p95. */
export interface RollupMinute {
  bucket: number;
  runs: number;
  lagP95Ms: number | null;
}

export interface RollupRepo {
  /** Runs by status, and the `slowest` jobs by mean duration, from the hour buckets since hoursSince (projectIds: only theirs). */
  day(query: { projectIds?: number[]; hoursSince: Date; slowest: number }): Promise<RollupDay>;
  /** The minutes since minutesSince that have final runs, in no particular order. */
  minutes(query: { projectIds?: number[]; minutesSince: Date }): Promise<RollupMinute[]>;
}

export interface CacheRepo {
  get(jobId: number, key: string): Promise<unknown>;
  set(jobId: number, key: string, value: unknown, ttlMs?: number): Promise<void>;
  delete(jobId: number, key: string): Promise<void>;
}

/**
 * The hosts table. Expiry is judged by the database's clock only, so hosts whose clocks differ agree on it.
 * Single-host mode: at most one live lease. Cluster mode will add joining beside other live hosts and reaping.
 */
export interface HostRepo {
  /**
   * Takes the database's only lease: refused (with the holder) while another instance holds a live one, whatever its
   * host id; the expired leases of others are marked DEAD in the same transaction, so their renewals fail.
   */
  claimSole(identity: HostIdentity, leaseMs: number): Promise<LeaseClaim>;
  /** Extends the lease by leaseMs from now; false when this instance no longer holds it. */
  renew(hostId: string, instance: string, leaseMs: number): Promise<boolean>;
  /** Ends the lease at once (a clean stop): the next host starts without waiting for it to expire. */
  release(hostId: string, instance: string): Promise<void>;
  list(): Promise<HostRecord[]>;
}

export type { StoreCapabilities } from './capabilities.js';

export interface Store {
  readonly capabilities: StoreCapabilities;
  readonly users: UserRepo;
  readonly tokens: TokenRepo;
  readonly projects: ProjectRepo;
  readonly bundles: BundleRepo;
  readonly jobs: JobRepo;
  readonly runs: RunRepo;
  readonly runWriter: RunWriter;
  readonly events: EventRepo;
  readonly rollups: RollupRepo;
  readonly cache: CacheRepo;
  /** Whether the database answers; statements that find it unreachable mark it down until a probe succeeds. */
  readonly health: DatabaseHealth;
  readonly hosts: HostRepo;
  /** Flushes the run writer and closes connections. */
  close(): Promise<void>;
}
