/**
 * The contract JobCenter jobs are written against. Types only: no runtime code, no dependencies.
 *
 * Terminology
 * - job: a named, scheduled unit of work defined on the host (schedule, params, config, concurrency).
 * - run: one execution of a job, identified by a UUID (`runId`); it has a status, a result and a log.
 * - bundle: a zip with `jobcenter.json` at its root holding a project's job code; each upload is a version.
 * - project: owns bundles and jobs; the host loads the current bundle version of each project.
 * - resolver: a job whose run returns the list of jobs it wants to exist (sub-jobs).
 *
 * @example
 * ```ts
 * import type { PJob } from '@jobcenter/job-api';
 * export const hello: PJob<{ name: string }> = {
 *   async execute(ctx) {
 *     ctx.log.info(`hello ${ctx.params.name}`);
 *     return 'greeted';
 *   },
 * };
 * ```
 */

/** A job: `execute` is called once per run; its return value becomes the run's result. */
export interface PJob<P = unknown> {
  execute(ctx: JobContext<P>): Promise<string | void> | string | void;
}

/** A resolver: each run returns the jobs it wants to exist; the host reconciles them by name. */
export interface PJobResolver<P = unknown> {
  resolve(ctx: JobContext<P>): Promise<JobSpec[]> | JobSpec[];
}

/** What a resolver asks for: one sub-job. */
export interface JobSpec {
  readonly name: string;
  readonly entry: string | readonly string[];
  readonly kind?: 'thread' | 'module' | 'isolate' | 'exec';
  readonly params?: unknown;
  readonly schedule: Schedule;
  readonly concurrency?: Concurrency;
  /** Changing it forces the sub-job to be updated and restarted (the original's identifierCode). */
  readonly identifierCode?: string | number;
}

/** What a fire does while a run of the job is still going: overlap, queue behind it (bounded), or record SKIPPED. */
export type Concurrency = 'ALLOW' | 'WAIT' | 'SKIP';

/**
 * When a job fires; `startAt`/`endAt` (ISO 8601) bound it. CRON expressions have six fields, seconds first
 * (`0 30 9 * * 1-5`: 09:30:00 on weekdays); a five-field crontab line fires at second 0; without `timezone` the
 * host's time zone is used.
 */
export type Schedule =
  | { readonly type: 'MANUAL'; readonly startAt?: string; readonly endAt?: string }
  | { readonly type: 'INTERVAL'; readonly everyMs: number; readonly startAt?: string; readonly endAt?: string }
  | {
      readonly type: 'CRON';
      readonly cron: string;
      readonly timezone?: string;
      readonly startAt?: string;
      readonly endAt?: string;
    };

/** Everything a run receives from the host. */
export interface JobContext<P = unknown> {
  /** A UUID (the host makes version 7, which sorts by the time it was made), also on every log line of the run. */
  readonly runId: string;
  readonly job: { readonly id: number; readonly name: string; readonly project: string };
  /** The job's params (JSON). */
  readonly params: P;
  /** properties file + profile overlay + job overrides. */
  readonly config: Readonly<Record<string, string>>;
  /** Values kept across runs of this job (and across host restarts). */
  readonly cache: JobCache;
  /** trace/debug/info/warn/error → this run's log. */
  readonly log: JobLogger;
  /** Aborted on kill, timeout or shutdown. */
  readonly signal: AbortSignal;
  /** The fire time this run belongs to. */
  readonly scheduledAt: Date;
  /** 1 for the first try, 2+ for retries. */
  readonly attempt: number;
  /** Changes whenever ownership of the job moves (cluster mode). */
  readonly fencingToken: string;
}

/**
 * Values kept across runs of one job. Values are structured-cloned in and out (no live references, no functions);
 * with `ttlMs` a value disappears after that many milliseconds.
 *
 * @example
 * ```ts
 * const runs = ((await ctx.cache.get<number>('runs')) ?? 0) + 1;
 * await ctx.cache.set('runs', runs);
 * ```
 */
export interface JobCache {
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Values must be structured-cloneable. */
  set(key: string, value: unknown, opts?: { ttlMs?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** The levels of a run's log, lowest first. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/**
 * Writes to the run's log. Extra arguments are formatted like `util.format` (`%s`, `%d`, `%j`, or appended).
 *
 * @example
 * ```ts
 * ctx.log.info('copied %d rows from %s', rows, table);
 * ```
 */
export interface JobLogger {
  trace(message: string, ...args: unknown[]): void;
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** The `jobcenter.json` at the root of a bundle. */
export interface BundleManifest {
  readonly name: string;
  readonly version: string;
  /** Path of the main module inside the bundle, e.g. `dist/index.js`. */
  readonly main?: string;
  readonly kind: 'thread' | 'module' | 'isolate' | 'exec';
  readonly description?: string;
}

/**
 * What a module's bean factories and lifecycle hooks receive (kind `module`). A module context is built once per
 * loaded bundle version; its beans are singletons shared by every run of the bundle's jobs.
 *
 * @example
 * ```ts
 * const repository: BeanFactory<Repo> = async (ctx) => new Repo(ctx.config['db.url'] ?? 'memory:', await ctx.get('clock'));
 * ```
 */
export interface ModuleContext {
  /**
   * config/application.properties of the bundle, overlaid with application-<profile>.properties when that file exists
   * (the profile: the job's `profile`, else the manifest's "profile"); {} without the base file.
   */
  readonly config: Readonly<Record<string, string>>;
  /** Another bean of the module (built on first use, once); rejects naming the bean when it is missing or in a cycle. */
  get<T = unknown>(bean: string): Promise<T>;
  /** Goes to the host log (module lifecycle), not to a run's log. */
  readonly log: JobLogger;
}

/** Builds one bean; it may ask the context for the beans it depends on. */
export type BeanFactory<T = unknown> = (ctx: ModuleContext) => T | Promise<T>;

/** A bean with a disposer, called when the context closes (after onStop, in reverse build order). */
export interface BeanDefinition<T = unknown> {
  readonly factory: BeanFactory<T>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a disposer receives whatever its factory built
  readonly dispose?: (bean: any) => void | Promise<void>;
}

/**
 * The default export of a `module` bundle's main (made with the SDK's `defineModule`). Every bean whose value has
 * `execute` (a job) or `resolve` (a resolver) can be run: a job's `entry` is the bean's name.
 */
export interface ModuleDefinition {
  readonly beans: Readonly<Record<string, BeanFactory | BeanDefinition>>;
  /** After every bean is built. */
  onStart?(ctx: ModuleContext): void | Promise<void>;
  /** Before the context is closed; bean disposers run after it, in reverse build order. */
  onStop?(ctx: ModuleContext): void | Promise<void>;
}
