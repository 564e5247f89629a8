/**
 * JSON Schema (2020-12) of what clients send: the door checks every request against these (routes/door.ts), and
 * the OpenAPI document (routes/openapi.ts) publishes the same objects, so the reference cannot drift from what is
 * checked. They give every field a type and a bound; the services keep the checks a schema cannot say (a cron
 * expression that never fires, an export the bundle lacks, sizes in bytes).
 *
 * A `description` on a schema with a `pattern` is worded to follow "must be": door.ts builds refusals from it.
 */
import { MAX_INTERVAL_MS, MIN_INTERVAL_MS } from '../../domain/index.js';
import { MAX_ID, MAX_JSON_BYTES } from '../../services/input.js';
import { MAX_ARG_BYTES, MAX_ARGV_LENGTH, MAX_CONFIG_KEY, MAX_FETCH_HOSTS } from '../../services/job-input.js';

export type Schema = Record<string, unknown>;

/** A reference to a named schema of the document (components.schemas). */
export function ref(name: string): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

const NO_NUL = '^[^\\u0000]*$';
const nullable = (type: string): string[] => [type, 'null'];
const whole = (minimum: number, maximum: number, extra: Schema = {}): Schema => ({ type: 'integer', minimum, maximum, ...extra });
const wholeOrNull = (minimum: number, maximum: number, description: string): Schema => ({ type: nullable('integer'), minimum, maximum, description });

export const ID: Schema = whole(1, MAX_ID, { description: 'a row id' });
export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'KILLED', 'SKIPPED', 'INTERRUPTED'];
export const JOB_STATES = ['STOPPED', 'ACTIVE', 'PENDING'];
export const JOB_KINDS = ['thread', 'module', 'isolate', 'exec'];
export const ROLES = ['admin', 'developer', 'viewer'];
const TIME: Schema = { type: 'string', minLength: 1, maxLength: 40, description: 'an ISO 8601 date-time such as 2026-03-01T09:00:00Z' };

const PROJECT_NAME: Schema = {
  type: 'string',
  maxLength: 100,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$',
  description: '1 to 100 letters, digits, dots, dashes or underscores, starting with a letter or digit',
};
const DESCRIPTION: Schema = { type: nullable('string'), maxLength: 2000 };

/** The window every schedule type may carry. */
const WINDOW: Schema = {
  startAt: { ...TIME, description: 'no fire before this ISO 8601 date-time (a time without offset is read in the schedule\'s zone); a job waiting for it is PENDING' },
  endAt: { ...TIME, description: 'no fire after this ISO 8601 date-time; past it the job stops' },
};

const SCHEDULE: Schema = {
  type: 'object',
  description: 'When the job fires. MANUAL never fires on its own; INTERVAL fires every everyMs; CRON fires on a six-field cron expression (seconds first).',
  properties: { type: { enum: ['MANUAL', 'INTERVAL', 'CRON'] } },
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [
    { title: 'MANUAL', properties: { type: { const: 'MANUAL' }, ...WINDOW }, additionalProperties: false },
    {
      title: 'INTERVAL',
      properties: { type: { const: 'INTERVAL' }, everyMs: whole(MIN_INTERVAL_MS, MAX_INTERVAL_MS, { description: 'milliseconds between fires (1 s to 31 days)' }), ...WINDOW },
      required: ['everyMs'],
      additionalProperties: false,
    },
    {
      title: 'CRON',
      properties: {
        type: { const: 'CRON' },
        cron: { type: 'string', minLength: 1, maxLength: 200, description: 'a cron expression, six fields with seconds first (0 30 9 * * 1-5); five fields fire at second 0' },
        timezone: { type: 'string', minLength: 1, maxLength: 100, description: 'an IANA time zone such as Europe/Berlin; the host\'s zone when left out' },
        ...WINDOW,
      },
      required: ['cron'],
      additionalProperties: false,
    },
  ],
};

const RETRIES: Schema = {
  type: nullable('object'),
  description: 'Failed or timed-out runs are run again (trigger RETRY) up to count times, after the backoff delay.',
  properties: {
    count: whole(0, 100, { description: 'how many times a failed run is run again' }),
    backoff: {
      type: 'object',
      properties: {
        type: { enum: ['fixed', 'exponential'], default: 'fixed' },
        delayMs: whole(0, 86_400_000, { default: 1000, description: 'the delay before the first retry' }),
        maxDelayMs: whole(0, 7 * 86_400_000, { description: 'exponential: the delay grows to at most this (at least delayMs)' }),
      },
      additionalProperties: false,
    },
  },
  required: ['count'],
  additionalProperties: false,
};

const GRANTS: Schema = {
  type: nullable('object'),
  description: 'What an isolate job is granted beyond its JobContext.',
  properties: {
    fetch: {
      type: ['boolean', 'array'],
      maxItems: MAX_FETCH_HOSTS,
      items: { type: 'string', pattern: '^[A-Za-z0-9.-]{1,253}(:\\d{1,5})?$', description: 'a host name, or host:port' },
      description: 'a global fetch() the host performs: true for any URL, or a list of the host names it may reach',
    },
  },
  additionalProperties: false,
};

/** Every field a job body may carry, each optional here: JobCreate says which are required. */
const JOB_FIELDS: Schema = {
  projectId: { ...ID, description: 'the project the job belongs to (cannot change)' },
  name: {
    type: 'string',
    maxLength: 200,
    pattern: '^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,199}$',
    description: '1 to 200 characters: letters, digits, spaces, dots, colons, dashes, underscores, starting with a letter or digit',
  },
  kind: { enum: JOB_KINDS, description: 'how the job runs: a worker thread, a module bean, an isolated-vm context, or a child process' },
  entry: {
    type: ['string', 'array'],
    maxLength: 200,
    pattern: '^[A-Za-z_$][\\w$]{0,199}$',
    minItems: 1,
    maxItems: MAX_ARGV_LENGTH,
    items: { type: 'string', maxLength: MAX_ARG_BYTES, pattern: NO_NUL, description: `an argument of at most ${MAX_ARG_BYTES} characters, without NUL` },
    description: 'the exported job (thread, isolate) or bean (module) as an identifier; for kind exec the argv, an array of strings',
  },
  params: { description: `any JSON value, at most ${MAX_JSON_BYTES.toLocaleString('en')} bytes as JSON text: what runs receive as ctx.params` },
  configFile: {
    type: nullable('string'),
    maxLength: 111,
    pattern: '^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\\.properties$',
    description: "the name of a .properties file in the bundle's config/ folder",
  },
  profile: { type: nullable('string'), maxLength: 50, pattern: '^[A-Za-z0-9_-]*$', description: 'up to 50 letters, digits, dashes or underscores: config/<file>-<profile>.properties overlays configFile' },
  config: {
    type: nullable('object'),
    description: `overrides of the job's configuration, a map of strings (at most ${MAX_JSON_BYTES.toLocaleString('en')} bytes as JSON)`,
    propertyNames: { minLength: 1, maxLength: MAX_CONFIG_KEY, pattern: NO_NUL, not: { const: '__proto__' }, description: `1 to ${MAX_CONFIG_KEY} characters without NUL, other than __proto__` },
    additionalProperties: { type: 'string', maxLength: MAX_JSON_BYTES, pattern: NO_NUL, description: `a string of at most ${MAX_JSON_BYTES.toLocaleString('en')} bytes, without NUL` },
  },
  schedule: ref('Schedule'),
  concurrency: { enum: ['ALLOW', 'WAIT', 'SKIP'], default: 'ALLOW', description: 'what a fire does while a run is still going: overlap, queue behind it, or record SKIPPED' },
  maxQueue: wholeOrNull(1, 10_000, 'WAIT: how many runs may queue behind the running one (default: the host\'s --default-max-queue)'),
  timeoutMs: wholeOrNull(1, 30 * 86_400_000, 'a run still going after this many milliseconds is TIMED_OUT'),
  memoryLimitMb: wholeOrNull(8, 16_384, 'the memory a run may use (thread, module, isolate; exec under cgroup containment)'),
  misfire: { enum: ['fireOnce', 'skip', 'fireAll'], default: 'fireOnce', description: 'what happens to fires missed while the host was down' },
  onInterrupt: { enum: ['none', 'rerun'], default: 'none', description: 'whether a run the host lost (a restart) starts again as a RECOVERY run' },
  shell: { type: nullable('boolean'), default: false, description: 'exec only: run the argv through /bin/sh -c' },
  grants: ref('Grants'),
  retries: ref('Retries'),
};

/** The request bodies and shared pieces, by name (components.schemas of the document). */
export const INPUT_SCHEMAS: Record<string, Schema> = {
  Schedule: SCHEDULE,
  Retries: RETRIES,
  Grants: GRANTS,
  JobCreate: {
    type: 'object',
    properties: { ...JOB_FIELDS, start: { type: nullable('boolean'), description: 'start the job once it is created' } },
    required: ['projectId', 'name', 'kind', 'entry', 'schedule'],
    additionalProperties: false,
  },
  JobPatch: {
    type: 'object',
    description: 'Any field of a job body; the others keep their values. projectId may be sent only with the job\'s own project.',
    properties: JOB_FIELDS,
    additionalProperties: false,
  },
  Trigger: {
    type: 'object',
    properties: { params: { description: `this run's params instead of the job's: any JSON value, at most ${MAX_JSON_BYTES.toLocaleString('en')} bytes as JSON text` } },
    additionalProperties: false,
  },
  SchedulePreview: {
    type: 'object',
    properties: {
      schedule: ref('Schedule'),
      startAt: { ...TIME, description: 'fires after this ISO 8601 date-time (default: now)' },
      endAt: { ...TIME, description: 'fires up to this ISO 8601 date-time' },
      count: whole(1, 100, { default: 10, description: 'how many fire times' }),
    },
    required: ['schedule'],
    additionalProperties: false,
  },
  ProjectCreate: {
    type: 'object',
    properties: {
      name: PROJECT_NAME,
      description: DESCRIPTION,
      trusted: { type: 'boolean', description: 'admins only: a trusted project may run thread, module and exec code; others run isolate jobs only' },
    },
    required: ['name'],
    additionalProperties: false,
  },
  ProjectPatch: {
    type: 'object',
    properties: {
      name: PROJECT_NAME,
      description: DESCRIPTION,
      ownerId: { ...ID, description: 'admins only: the user who owns the project' },
      trusted: { type: 'boolean', description: 'admins only: whether the project is trusted' },
    },
    additionalProperties: false,
  },
  Login: {
    type: 'object',
    properties: { username: { type: 'string', minLength: 1, maxLength: 200 }, password: { type: 'string', minLength: 1, maxLength: 1000 } },
    required: ['username', 'password'],
    additionalProperties: false,
  },
  UserCreate: {
    type: 'object',
    properties: {
      username: { type: 'string', maxLength: 50, pattern: '^[A-Za-z0-9._-]{2,50}$', description: '2 to 50 letters, digits, dots, dashes or underscores' },
      password: { type: 'string', minLength: 8, maxLength: 200 },
      role: { enum: ROLES, default: 'developer' },
    },
    required: ['username', 'password'],
    additionalProperties: false,
  },
  UserPatch: {
    type: 'object',
    description: 'A new password revokes every session and API token of the user made before it (except the one of this request).',
    properties: { role: { enum: ROLES }, password: { type: 'string', minLength: 8, maxLength: 200 }, disabled: { type: 'boolean' } },
    additionalProperties: false,
  },
  TokenCreate: {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 100, pattern: '\\S', description: '1 to 100 characters, not only spaces' },
      ttlDays: whole(1, 3650, { description: 'the token expires after this many days; never when left out' }),
    },
    required: ['name'],
    additionalProperties: false,
  },
};
