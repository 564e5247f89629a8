/**
 * Options are compiled once into a frozen HostConfig: defaults, units, validation. This is the only module that
 * reads process.env (and only when the composition root passes it in).
 */
import { hostname } from 'node:os';
import path from 'node:path';

/** This host's version, as the console's hosts page and the hosts table show it. */
export const HOST_VERSION = '0.1.0';

export interface HostOptions {
  port?: number;
  /** Bind address; default 0.0.0.0 for the CLI, 127.0.0.1 is fine for tests. */
  bind?: string;
  dataDir?: string;
  /** `sqlite:` (default, file in the data folder), `sqlite:/abs/path.db`, or `mysql://user:pass@host:3306/db`. */
  dbUrl?: string;
  adminPassword?: string;
  hostId?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Max size of an uploaded bundle zip in bytes (default 100 MB). */
  maxBundleBytes?: number;
  /** Max total unpacked bytes of a bundle (default 500 MB). */
  maxBundleUnpackedBytes?: number;
  /** Max entries in a bundle zip (default 20,000). */
  maxBundleEntries?: number;
  /** Time limit of bundle introspection (default 10 s). */
  introspectTimeoutMs?: number;
  /** Default run timeout when a job sets none (default 0 = none). */
  defaultTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL for exec runs, and between abort and terminate for thread runs (default 5 s). */
  killGraceMs?: number;
  /** How long stop() lets runs finish before aborting them (default 10 s). */
  shutdownGraceMs?: number;
  /** Per-run log cap in bytes; head and tail are kept (default 1 MiB). */
  runLogMaxBytes?: number;
  /** Max length of a run's result string (default 4,000 chars). */
  resultMaxChars?: number;
  /** Worker threads per project pool (default 2). */
  threadsPerProject?: number;
  /** Default memory limit of a thread worker's old generation in MB (default 256). */
  defaultMemoryLimitMb?: number;
  /** Default bound of a WAIT queue (default 100). */
  defaultMaxQueue?: number;
  /** Run rows of scheduled fires are written this long before their fire time (default 500 ms; 0 = at the fire). */
  fireLeadMs?: number;
  /**
   * Scheduled fires beyond this many runs held at once (planned, queued or running) are recorded as SKIPPED instead
   * of piling up in memory (default 20,000).
   */
  maxRunsInFlight?: number;
  /**
   * Scheduled fires that come while the oldest run row waiting to be written has waited this long are dropped without
   * a row (counted, logged and in /metrics): when the database is the bottleneck, a row per dropped fire would only
   * deepen it (default 5,000 ms).
   */
  maxRowLagMs?: number;
  /**
   * How long this host's lease on its database and data folder lasts without a renewal (default 30 s; renewed every
   * third of it). A host killed without a stop blocks the next one on its database for up to this long.
   */
  leaseMs?: number;
  /** Create and start the samples project on an empty database (default true for the CLI). */
  seedSamples?: boolean;
  /** Where the built sample bundles are (default <repo>/dist/samples). */
  samplesDir?: string;
  /** The environment job code sees (workers and child processes); default: the host's, minus JOBCENTER_*. */
  jobEnv?: Record<string, string | undefined>;
  /** Serve GET /metrics without a token (default false: any user's token is needed). */
  metricsPublic?: boolean;
  /** Failed logins allowed per username and per client address within a window (default 10, 100, 5 minutes). */
  loginLimits?: Partial<LoginLimits>;
  /**
   * How exec runs are contained (docs/isolation.md): `auto` (default: the best this machine allows), `cgroup`,
   * `pid-namespace` or `process-group`. Asking for one the machine cannot give fails the start.
   */
  execContainment?: ContainmentChoice;
  /**
   * How exec commands are started: `auto` (default: by the native addon's vfork where it is built, else by a fork)
   * or `fork` (always child_process.spawn). docs/isolation.md, "How an exec command is started".
   */
  execSpawn?: SpawnChoice;
}

/**
 * Once a username (or a client address) has had this many failed logins within the window, which opens at the first
 * failure, its logins are refused (429) until the window closes.
 */
export interface LoginLimits {
  readonly failuresPerUser: number;
  readonly failuresPerAddress: number;
  readonly windowMs: number;
}

export interface HostConfig {
  readonly port: number;
  readonly bind: string;
  readonly dataDir: string;
  readonly db: { readonly dialect: 'sqlite'; readonly file: string } | { readonly dialect: 'mysql'; readonly url: string };
  readonly adminPassword: string | null;
  readonly hostId: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly bundlesDir: string;
  readonly logsDir: string;
  readonly hostLogsDir: string;
  readonly maxBundleBytes: number;
  readonly maxBundleUnpackedBytes: number;
  readonly maxBundleEntries: number;
  readonly introspectTimeoutMs: number;
  readonly defaultTimeoutMs: number;
  readonly killGraceMs: number;
  readonly shutdownGraceMs: number;
  readonly runLogMaxBytes: number;
  readonly resultMaxChars: number;
  readonly threadsPerProject: number;
  readonly defaultMemoryLimitMb: number;
  readonly defaultMaxQueue: number;
  readonly fireLeadMs: number;
  readonly maxRunsInFlight: number;
  readonly maxRowLagMs: number;
  readonly leaseMs: number;
  readonly seedSamples: boolean;
  readonly samplesDir: string | null;
  /** The environment job code gets: never the host's JOBCENTER_* variables (the admin password among them). */
  readonly jobEnv: Readonly<Record<string, string>>;
  readonly metricsPublic: boolean;
  readonly loginLimits: LoginLimits;
  readonly execContainment: ContainmentChoice;
  readonly execSpawn: SpawnChoice;
}

export type SpawnChoice = 'auto' | 'fork';

export type ContainmentChoice = 'auto' | 'cgroup' | 'pid-namespace' | 'process-group';
const CONTAINMENTS: readonly ContainmentChoice[] = ['auto', 'cgroup', 'pid-namespace', 'process-group'];

const MB = 1024 * 1024;

/** A lease shorter than this would be renewed more often than a loaded host can promise to. */
const MIN_LEASE_MS = 1_000;

/** Maps JOBCENTER_* variables onto options; flags given explicitly win over the environment. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): HostOptions {
  const opts: HostOptions = {};
  if (env.JOBCENTER_PORT) opts.port = parseIntStrict(env.JOBCENTER_PORT, 'JOBCENTER_PORT');
  if (env.JOBCENTER_DATA_DIR) opts.dataDir = env.JOBCENTER_DATA_DIR;
  if (env.JOBCENTER_DB_URL) opts.dbUrl = env.JOBCENTER_DB_URL;
  if (env.JOBCENTER_ADMIN_PASSWORD) opts.adminPassword = env.JOBCENTER_ADMIN_PASSWORD;
  if (env.JOBCENTER_HOST_ID) opts.hostId = env.JOBCENTER_HOST_ID;
  if (env.JOBCENTER_LOG_LEVEL) opts.logLevel = parseLevel(env.JOBCENTER_LOG_LEVEL);
  if (env.JOBCENTER_BIND) opts.bind = env.JOBCENTER_BIND;
  if (env.JOBCENTER_LEASE_MS) opts.leaseMs = parseIntStrict(env.JOBCENTER_LEASE_MS, 'JOBCENTER_LEASE_MS');
  if (env.JOBCENTER_METRICS_PUBLIC) opts.metricsPublic = parseBoolean(env.JOBCENTER_METRICS_PUBLIC, 'JOBCENTER_METRICS_PUBLIC');
  if (env.JOBCENTER_EXEC_CONTAINMENT) opts.execContainment = env.JOBCENTER_EXEC_CONTAINMENT as ContainmentChoice;
  if (env.JOBCENTER_EXEC_SPAWN) opts.execSpawn = env.JOBCENTER_EXEC_SPAWN as SpawnChoice;
  return opts;
}

export function compileConfig(options: HostOptions): HostConfig {
  const dataDir = path.resolve(options.dataDir ?? './data');
  const port = options.port ?? 8017;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be 0..65535, got ${port}`);
  const logsDir = path.join(dataDir, 'logs');
  const config: HostConfig = {
    port,
    bind: options.bind ?? '0.0.0.0',
    dataDir,
    db: parseDbUrl(options.dbUrl ?? 'sqlite:', dataDir),
    adminPassword: options.adminPassword ?? null,
    hostId: options.hostId ?? `${hostname()}:${port}`,
    logLevel: options.logLevel ?? 'info',
    bundlesDir: path.join(dataDir, 'bundles'),
    logsDir,
    hostLogsDir: path.join(logsDir, 'host'),
    maxBundleBytes: positive(options.maxBundleBytes ?? 100 * MB, 'maxBundleBytes'),
    maxBundleUnpackedBytes: positive(options.maxBundleUnpackedBytes ?? 500 * MB, 'maxBundleUnpackedBytes'),
    maxBundleEntries: positive(options.maxBundleEntries ?? 20_000, 'maxBundleEntries'),
    introspectTimeoutMs: positive(options.introspectTimeoutMs ?? 10_000, 'introspectTimeoutMs'),
    defaultTimeoutMs: nonNegative(options.defaultTimeoutMs ?? 0, 'defaultTimeoutMs'),
    killGraceMs: nonNegative(options.killGraceMs ?? 5_000, 'killGraceMs'),
    shutdownGraceMs: nonNegative(options.shutdownGraceMs ?? 10_000, 'shutdownGraceMs'),
    runLogMaxBytes: positive(options.runLogMaxBytes ?? MB, 'runLogMaxBytes'),
    resultMaxChars: positive(options.resultMaxChars ?? 4_000, 'resultMaxChars'),
    threadsPerProject: positive(options.threadsPerProject ?? 2, 'threadsPerProject'),
    defaultMemoryLimitMb: positive(options.defaultMemoryLimitMb ?? 256, 'defaultMemoryLimitMb'),
    defaultMaxQueue: positive(options.defaultMaxQueue ?? 100, 'defaultMaxQueue'),
    // Not a whole second: planning the fires of second T+1 must not land on the launch of second T's fires.
    fireLeadMs: nonNegative(options.fireLeadMs ?? 500, 'fireLeadMs'),
    maxRunsInFlight: positive(options.maxRunsInFlight ?? 20_000, 'maxRunsInFlight'),
    maxRowLagMs: positive(options.maxRowLagMs ?? 5_000, 'maxRowLagMs'),
    leaseMs: atLeast(options.leaseMs ?? 30_000, MIN_LEASE_MS, 'leaseMs'),
    seedSamples: options.seedSamples ?? false,
    samplesDir: options.samplesDir ?? null,
    jobEnv: Object.freeze(withoutHostVariables(options.jobEnv ?? process.env)),
    metricsPublic: options.metricsPublic ?? false,
    loginLimits: Object.freeze({
      failuresPerUser: positive(options.loginLimits?.failuresPerUser ?? 10, 'loginLimits.failuresPerUser'),
      failuresPerAddress: positive(options.loginLimits?.failuresPerAddress ?? 100, 'loginLimits.failuresPerAddress'),
      windowMs: positive(options.loginLimits?.windowMs ?? 5 * 60_000, 'loginLimits.windowMs'),
    }),
    execContainment: containmentChoice(options.execContainment ?? 'auto'),
    execSpawn: spawnChoice(options.execSpawn ?? 'auto'),
  };
  return Object.freeze(config);
}

/** The database as a message may name it: the SQLite file, or the MySQL server and database without credentials. */
export function describeDb(db: HostConfig['db']): string {
  if (db.dialect === 'sqlite') return `sqlite:${db.file}`;
  const url = new URL(db.url);
  return `mysql://${url.host}${url.pathname}`;
}

function withoutHostVariables(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !name.startsWith('JOBCENTER_')) out[name] = value;
  }
  return out;
}

function parseDbUrl(url: string, dataDir: string): HostConfig['db'] {
  if (url === 'sqlite:' || url === 'sqlite') return { dialect: 'sqlite', file: path.join(dataDir, 'jobcenter.db') };
  if (url.startsWith('sqlite:')) return { dialect: 'sqlite', file: path.resolve(url.slice('sqlite:'.length).replace(/^\/\//, '')) };
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) return { dialect: 'mysql', url: url.replace(/^mariadb:/, 'mysql:') };
  throw new Error(`database URL must start with sqlite: or mysql://, got ${JSON.stringify(url)}`);
}

function parseIntStrict(value: string, name: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`${name} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function parseBoolean(value: string, name: string): boolean {
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new Error(`${name} must be 1, true, 0 or false, got ${JSON.stringify(value)}`);
}

function parseLevel(value: string): HostConfig['logLevel'] {
  if (value === 'debug' || value === 'info' || value === 'warn' || value === 'error') return value;
  throw new Error(`JOBCENTER_LOG_LEVEL must be debug, info, warn or error, got ${JSON.stringify(value)}`);
}

function spawnChoice(value: string): SpawnChoice {
  if (value === 'auto' || value === 'fork') return value;
  throw new Error(`execSpawn (JOBCENTER_EXEC_SPAWN) must be auto or fork, got ${JSON.stringify(value)}`);
}

function containmentChoice(value: string): ContainmentChoice {
  const choice = CONTAINMENTS.find((c) => c === value);
  if (!choice) throw new Error(`execContainment (JOBCENTER_EXEC_CONTAINMENT) must be ${CONTAINMENTS.join(', ')}, got ${JSON.stringify(value)}`);
  return choice;
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${n}`);
  return n;
}

function atLeast(n: number, min: number, name: string): number {
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be at least ${min}, got ${n}`);
  return n;
}

function nonNegative(n: number, name: string): number {
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be zero or more, got ${n}`);
  return n;
}
