/**
 * JSON Schema of what the API answers (components.schemas of the OpenAPI document). Objects stay open
 * (no additionalProperties: false): a field added later does not break a client that checks these.
 */
import { EVENT_ENTITIES } from '../../domain/index.js';
import { ID, JOB_KINDS, JOB_STATES, ref, ROLES, RUN_STATUSES, type Schema } from './schemas.js';

const TIME: Schema = { type: 'string', format: 'date-time' };
const TIME_OR_NULL: Schema = { type: ['string', 'null'], format: 'date-time' };
const object = (properties: Record<string, Schema>, description?: string): Schema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required: Object.keys(properties),
});
/** `base` with more properties that are not always there. */
const optional = (base: Schema, more: Record<string, Schema>): Schema => ({ ...base, properties: { ...(base.properties as object), ...more } });
const page = (item: string, description: string): Schema =>
  object({ items: { type: 'array', items: ref(item) }, nextCursor: { type: ['string', 'null'], description: 'pass as ?cursor= for the next page; null on the last page' } }, description);

const RUN_STATUS: Schema = { enum: RUN_STATUSES };

export const OUTPUT_SCHEMAS: Record<string, Schema> = {
  Error: object(
    {
      error: {
        type: 'object',
        properties: {
          code: { enum: ['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'TOO_LARGE', 'UNPROCESSABLE', 'TOO_MANY_REQUESTS', 'DUPLICATE_FIRE', 'UNAVAILABLE', 'LEASE_LOST', 'INTERNAL'] },
          message: { type: 'string', description: 'what was wrong, for people' },
          details: { type: 'object', description: 'BAD_REQUEST: { field } names the field (dotted, entry[1] for array items); TOO_MANY_REQUESTS: { retryAfterS }; others: more about the refusal' },
        },
        required: ['code', 'message'],
      },
    },
    'Every refusal and failure answers this shape.',
  ),
  Health: object({
    status: { enum: ['ok', 'unavailable'] },
    host: { type: 'string' },
    database: { type: 'object', properties: { status: { enum: ['up', 'down'] }, since: TIME, error: { type: 'string' } }, required: ['status'] },
  }),
  Session: object({ token: { type: 'string', description: 'send as Authorization: Bearer <token>; also set as the jc_session cookie' }, user: ref('Actor'), expiresAt: TIME }),
  Actor: object({ id: ID, username: { type: 'string' }, role: { enum: ROLES } }),
  User: object({ id: ID, username: { type: 'string' }, role: { enum: ROLES }, disabled: { type: 'boolean' }, createdAt: TIME, lastLoginAt: TIME_OR_NULL }),
  Token: object({ id: ID, userId: ID, name: { type: 'string' }, kind: { const: 'api' }, expiresAt: TIME_OR_NULL, createdAt: TIME, lastUsedAt: TIME_OR_NULL }),
  TokenCreated: {
    allOf: [ref('Token'), object({ token: { type: 'string', description: 'the secret (jca_…), shown only in this answer' } })],
  },
  Project: object({
    id: ID,
    name: { type: 'string' },
    description: { type: 'string' },
    ownerId: ID,
    currentBundleId: { type: ['integer', 'null'], description: 'the bundle version new runs load' },
    trusted: { type: 'boolean', description: 'may run thread, module and exec code (else isolate only)' },
    createdAt: TIME,
    updatedAt: TIME,
  }),
  ProjectPage: page('Project', 'One page of projects, by id.'),
  Bundle: optional(
    object({
      id: ID,
      projectId: ID,
      version: { type: 'integer', description: '1, 2, 3… per project: each upload is a new version' },
      sha256: { type: 'string' },
      size: { type: 'integer', description: 'bytes of the zip' },
      manifest: {
        type: 'object',
        description: 'jobcenter.json of the bundle',
        properties: { name: { type: 'string' }, version: { type: 'string' }, main: { type: 'string' }, kind: { enum: JOB_KINDS }, description: { type: 'string' } },
        required: ['name', 'version', 'kind'],
      },
      exports: { type: 'array', items: object({ name: { type: 'string' }, type: { enum: ['job', 'resolver'] } }), description: 'what introspection found in the main module' },
      createdBy: { type: ['integer', 'null'] },
      createdAt: TIME,
    }),
    { current: { type: 'boolean', description: "whether this is the project's current version (the one new runs load)" } },
  ),
  BundleUploaded: {
    allOf: [ref('Bundle'), object({ warnings: { type: 'array', items: { type: 'string' }, description: 'jobs of the project that the new version would break (an export it lacks)' } })],
  },
  Job: {
    type: 'object',
    description: 'A job as stored, with nextFireAt. The main list adds subJobCount, runCounts and lastRun.',
    properties: {
      id: ID,
      projectId: ID,
      name: { type: 'string' },
      kind: { enum: JOB_KINDS },
      entry: { type: ['string', 'array'], items: { type: 'string' } },
      params: { description: 'any JSON value (null: none)' },
      configFile: { type: ['string', 'null'] },
      profile: { type: ['string', 'null'] },
      config: { type: 'object', additionalProperties: { type: 'string' } },
      schedule: ref('Schedule'),
      concurrency: { enum: ['ALLOW', 'WAIT', 'SKIP'] },
      maxQueue: { type: 'integer' },
      timeoutMs: { type: ['integer', 'null'] },
      memoryLimitMb: { type: ['integer', 'null'] },
      misfire: { enum: ['fireOnce', 'skip', 'fireAll'] },
      onInterrupt: { enum: ['none', 'rerun'] },
      shell: { type: 'boolean' },
      state: { enum: JOB_STATES },
      anchorAt: { ...TIME_OR_NULL, description: 'INTERVAL: fires fall on anchorAt + k × everyMs' },
      resolverId: { type: ['integer', 'null'], description: 'sub-jobs: the resolver job that made this one' },
      identifierCode: { type: ['string', 'null'] },
      grants: ref('Grants'),
      retries: ref('Retries'),
      disabled: { type: 'boolean', description: 'a sub-job its resolver no longer lists' },
      ownerId: { type: ['integer', 'null'] },
      createdAt: TIME,
      updatedAt: TIME,
      nextFireAt: { ...TIME_OR_NULL, description: 'the next scheduled fire, null when none (MANUAL, stopped, past endAt)' },
      subJobCount: { type: 'integer', description: 'GET /jobs only: sub-jobs of a resolver' },
      runCounts: { type: 'object', propertyNames: RUN_STATUS, additionalProperties: { type: 'integer' }, description: 'GET /jobs only: runs of the job by status' },
      lastRun: {
        type: ['object', 'null'],
        description: 'GET /jobs only: the latest run, null when none',
        properties: { runId: { type: 'string', format: 'uuid' }, status: RUN_STATUS, scheduledAt: TIME, startedAt: TIME_OR_NULL, endedAt: TIME_OR_NULL },
      },
    },
    required: ['id', 'projectId', 'name', 'kind', 'entry', 'schedule', 'concurrency', 'state', 'nextFireAt'],
  },
  JobPage: page('Job', 'One page of jobs, by id.'),
  StartedJob: { allOf: [ref('Job'), { type: 'object', properties: { runId: { type: 'string', format: 'uuid', description: 'a MANUAL job that starts runs at once' } } }] },
  Fires: object({
    timezone: { type: ['string', 'null'], description: 'the zone cron fields are read in' },
    fires: { type: 'array', items: TIME, description: 'the next fire times, oldest first; fewer when the schedule ends' },
  }),
  Run: {
    type: 'object',
    properties: {
      runId: { type: 'string', format: 'uuid', description: 'UUID version 7 (time-ordered)' },
      jobId: ID,
      projectId: ID,
      bundleId: { type: ['integer', 'null'] },
      host: { type: 'string' },
      trigger: { enum: ['SCHEDULE', 'MANUAL', 'RETRY', 'RECOVERY'] },
      status: RUN_STATUS,
      scheduledAt: { ...TIME, description: 'the fire time the run belongs to (MANUAL: when it was asked for)' },
      startedAt: TIME_OR_NULL,
      endedAt: TIME_OR_NULL,
      durationMs: { type: ['integer', 'null'] },
      result: { type: ['string', 'null'], description: 'what the job returned (bounded)' },
      error: {
        type: ['object', 'null'],
        properties: { name: { type: 'string' }, message: { type: 'string' }, stack: { type: 'string' }, code: { type: 'string' } },
      },
      attempt: { type: 'integer', description: '1 for the first try, 2+ for retries' },
      cpuMs: { type: ['number', 'null'] },
      peakMemoryMb: { type: ['number', 'null'] },
      logBytes: { type: 'integer' },
      notBefore: { ...TIME_OR_NULL, description: 'a retry waiting for its backoff starts no earlier than this' },
      params: { description: "the run's own params (a trigger's); null: the job's" },
    },
    required: ['runId', 'jobId', 'projectId', 'trigger', 'status', 'scheduledAt', 'attempt'],
  },
  RunPage: page('Run', 'One page of runs, newest first.'),
  Event: object({
    id: ID,
    entity: { enum: EVENT_ENTITIES, description: 'what the event is about' },
    entityId: { type: ['integer', 'null'], description: "the entity's id (a session's: its user's); null: a login to no user" },
    jobId: { type: 'integer', description: '0 for an event not about one job' },
    projectId: { type: 'integer', description: '0 for an event about an account (user, session, token)' },
    userId: { type: ['integer', 'null'], description: 'the account an account event is about' },
    action: {
      enum: ['created', 'updated', 'started', 'stopped', 'triggered', 'killed', 'deleted', 'trust', 'activated', 'uploaded', 'password_reset', 'login', 'login_failed', 'logout', 'revoked'],
    },
    actor: { type: 'string', description: 'a username (for a refused login: the name given), or system' },
    details: { type: ['object', 'null'], description: 'updated: { field: { before, after } }; trust: { trusted: { before, after } }; activated: { bundle: { before, after } }' },
    at: TIME,
  }),
  Dashboard: object(
    {
      generatedAt: TIME,
      jobsByState: { type: 'object', additionalProperties: { type: 'integer' }, description: 'jobs (sub-jobs included) by state: STOPPED, ACTIVE, PENDING' },
      runs24h: object(
        {
          total: { type: 'integer' },
          byStatus: { type: 'object', additionalProperties: { type: 'integer' }, description: 'final statuses only; a status without runs is absent' },
          successRate: { type: ['number', 'null'], description: 'SUCCEEDED / (total − SKIPPED); null when no run ran' },
        },
        'Runs that ended in the current hour and the 24 before it (hour buckets: 24 to 25 hours).',
      ),
      slowest: {
        type: 'array',
        description: 'the 5 jobs with the longest mean duration over the same hours',
        items: object({ jobId: ID, jobName: { type: 'string' }, projectId: ID, runs: { type: 'integer' }, avgMs: { type: 'number' }, maxMs: { type: 'number' } }),
      },
      failures: {
        type: 'array',
        description: 'the 10 newest runs (by fire time) that ended FAILED, TIMED_OUT, KILLED or INTERRUPTED',
        items: object({ runId: { type: 'string' }, jobId: ID, jobName: { type: 'string' }, status: RUN_STATUS, endedAt: TIME_OR_NULL, error: { type: ['string', 'null'] } }),
      },
      nextFires: {
        type: 'array',
        description: "the 10 next fire times on this host's schedule",
        items: object({ jobId: ID, jobName: { type: 'string' }, at: TIME }),
      },
      series: object(
        {
          minutes: { type: 'array', items: { type: 'integer' }, description: 'the start of each of the last 60 minutes (epoch ms), oldest first' },
          runs: { type: 'array', items: { type: 'integer' }, description: 'runs that ended in each minute' },
          fireLagP95Ms: {
            type: 'array',
            items: { type: ['number', 'null'] },
            description: "p95 of the lag of each minute's SCHEDULE runs (start − fire time), to the histogram's bound (5, 10, 25, 50, 100, 250, 500, 1000, 5000 ms); null: none",
          },
        },
        'The last hour, a minute at a time.',
      ),
    },
    'What the caller may see of the host at a glance (its projects only, for a developer).',
  ),
  Host: object({
    id: { type: 'string' },
    startedAt: TIME,
    db: { enum: ['sqlite', 'mysql'] },
    scheduledJobs: { type: 'integer' },
    activeRuns: { type: 'integer' },
    pid: { type: 'integer' },
    pools: object(
      {
        threadWorkers: { type: 'integer', description: 'live worker threads of thread jobs, all projects' },
        moduleContexts: { type: 'integer', description: 'live module contexts (one worker each)' },
        moduleSpareWorkers: { type: 'integer', description: 'blank module workers started ahead of need, one per memory limit in use (kept 30 s after the last context of a limit stops), adopted by the next context' },
        isolates: { type: 'integer', description: 'live isolates of isolate jobs (idle and busy)' },
        execGroups: { type: 'integer', description: 'process groups of exec runs now running' },
        execContainment: { type: 'string', description: 'how exec runs are contained (docs/isolation.md)' },
        execSpawn: { type: 'string', enum: ['vfork', 'fork'], description: 'how exec commands are started: vfork (the native addon) or fork (docs/isolation.md)' },
      },
      "The executors' pools now.",
    ),
  }),
};
