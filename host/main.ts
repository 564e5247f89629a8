/**
 * The composition root: builds every part of a host and passes each its collaborators. `createHost` is what
 * `jobcenter start` runs and what another Node process embeds. Start and stop are idempotent; teardown runs in
 * reverse order and closes only what was opened.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import type Koa from 'koa';
import { createRunLogStore, type RunLogStore } from './blob/run-logs.js';
import { createBundleIntake } from './bundles/index.js';
import { lockDataDir } from './cluster/data-dir-lock.js';
import { takeHostLease, type HostLease } from './cluster/host-lease.js';
import { compileConfig, describeDb, HOST_VERSION, type HostConfig, type HostOptions } from './config/index.js';
import { BundleRuns } from './dispatch/bundle-runs.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import type { Reconciler } from './dispatch/types.js';
import { serverPathHider } from './errors/server-paths.js';
import { killOrphanedGroups } from './executors/shared/child-groups.js';
import { createModuleExecutor } from './executors/module/module-executor.js';
import { createIsolateExecutor } from './executors/isolate/isolate-executor.js';
import { createBundleScanner } from './executors/introspect/bundle-scanner.js';
import { createThreadExecutor } from './executors/thread/thread-executor.js';
import { createHostLogger } from './log/host-log.js';
import type { Logger } from './log/logger.js';
import { createExecExecutor } from './executors/exec/exec-executor.js';
import { Access } from './services/access.js';
import { AuthService } from './services/auth.js';
import { MissedFireCatchUp } from './services/catch-up.js';
import { DashboardService } from './services/dashboard.js';
import { EventService } from './services/events.js';
import { Engine } from './services/engine.js';
import { JobService } from './services/jobs.js';
import { readHostMetrics } from './services/metrics.js';
import { ProjectService } from './services/projects.js';
import { recover, type RecoveryReport } from './services/recovery.js';
import { ResolverService } from './services/resolvers.js';
import { RunService } from './services/runs.js';
import { seedSamples } from './services/seed.js';
import { CachedTargets } from './services/targets.js';
import { createStore } from './store/index.js';
import type { HostIdentity } from './domain/index.js';
import type { Store } from './store/types.js';
import { createWebApp } from './web/app.js';
import { bindServer } from './web/server.js';

export interface Host {
  readonly config: HostConfig;
  /** Available after start(). */
  readonly app: Koa;
  /**
   * Listens, then starts everything; resolves with the URL the host serves on. A port it cannot bind rejects before
   * the database is opened; requests answer 503 until the start is done.
   */
  start(): Promise<{ url: string; adminPassword: string | null; recovery: RecoveryReport }>;
  /** Stops scheduling, lets runs finish up to the grace time, aborts the rest, closes everything. */
  stop(): Promise<void>;
  /** Testing and embedding: the running parts. */
  readonly parts: Parts;
}

export interface Parts {
  store: Store;
  engine: Engine;
  dispatcher: Dispatcher;
  jobs: JobService;
  projects: ProjectService;
  runs: RunService;
  logger: Logger;
}

export interface HostExtras {
  /** Print the host log to stdout too (the CLI does). */
  logToConsole?: boolean;
  /** Called once a host that lost its lease on its database has stopped itself (the CLI exits with status 1). */
  onLeaseLost?(reason: Error): void;
}

type Phase = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export function createHost(options: HostOptions = {}, extras: HostExtras = {}): Host {
  const config = compileConfig(options);
  let phase: Phase = 'new';
  let parts: Parts | null = null;
  let app: Koa | null = null;
  let starting: Promise<{ url: string; adminPassword: string | null; recovery: RecoveryReport }> | null = null;
  let stopping: Promise<void> | null = null;
  const teardown: Teardown = [];

  async function doStart(): Promise<{ url: string; adminPassword: string | null; recovery: RecoveryReport }> {
    phase = 'starting';
    const startedAt = new Date();
    const logger = await openHostLog(config, extras, teardown);
    const server = await bindServer({ port: config.port, bind: config.bind, hostId: config.hostId });
    teardown.push(() => server.close());
    const { store, lease } = await claimDatabase(config, { startedAt, logger, teardown, onLeaseLost: (reason) => leaseLost(logger, reason) });
    const auth = new AuthService(store, logger, config.loginLimits);
    const adminPassword = await auth.ensureAdmin(config.adminPassword);
    const runLogs = createRunLogStore({ dir: config.logsDir, maxBytesPerRun: config.runLogMaxBytes, logger: logger.child({ part: 'run-logs' }) });
    teardown.push(() => runLogs.close());
    const executors = makeExecutors(config, logger, teardown);
    const runtime = makeRuntime({ config, store, executors, runLogs, logger, teardown });
    const services = makeServices({ config, store, executors, runLogs, logger, ...runtime });
    const { engine, dispatcher } = runtime;
    parts = { store, engine, dispatcher, jobs: services.jobs, projects: services.projects, runs: services.runs, logger };
    const recovery = await startScheduling({ config, store, runLogs, logger, teardown, ...runtime, ...services });
    app = makeWebApp({ config, store, executors, auth, logger, startedAt, ready: () => phase === 'running', ...runtime, ...services });
    phase = 'running';
    server.serve(app);
    // Bound first so that a taken port fails the start early; closed first on stop, so no request meets a half-closed host.
    teardown.push(() => server.close());
    logger.info('JobCenter is running', { url: server.url, dataDir: config.dataDir, db: config.db.dialect, hostId: config.hostId, leaseEpoch: lease.epoch });
    return { url: server.url, adminPassword, recovery };
  }

  /** Another host holds the database now, or this one could not renew in time: it must not run anything more. */
  function leaseLost(logger: Logger, reason: Error): void {
    logger.error('THIS HOST LOST ITS LEASE AND STOPS: another host may be running the jobs now', { reason: reason.message, hostId: config.hostId });
    void stop().then(() => extras.onLeaseLost?.(reason));
  }

  async function doStop(): Promise<void> {
    if (starting) await starting.catch(() => undefined);
    await closeOpened();
  }

  async function closeOpened(): Promise<void> {
    phase = 'stopping';
    // Reverse order of opening: web, scheduler, drain runs, executors, logs, lease, store, data folder, host log. Taken
    // off the list, so a stop() that follows a failed start closes nothing twice.
    for (const step of teardown.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        parts?.logger.error('stop step failed', { error: (err as Error).message });
      }
    }
    phase = 'stopped';
  }

  function stop(): Promise<void> {
    if (phase === 'new') phase = 'stopped';
    stopping ??= phase === 'stopped' ? Promise.resolve() : doStop();
    return stopping;
  }

  return {
    config,
    get app(): Koa {
      if (!app) throw new Error('the host is not started');
      return app;
    },
    get parts(): Parts {
      if (!parts) throw new Error('the host is not started');
      return parts;
    },
    start() {
      if (phase === 'stopping' || phase === 'stopped') return Promise.reject(new Error('a stopped host cannot start again; create a new one'));
      // Not doStop(): it waits for `starting`, which would wait for it (a failed start never settled, and the CLI exited 0).
      starting ??= doStart().catch(async (err: unknown) => {
        await closeOpened();
        throw err;
      });
      return starting;
    },
    stop,
  };
}

/** What start opened, in order; stop runs it backwards. */
type Teardown = (() => Promise<void>)[];

/** The data folder, and the host log in it. */
async function openHostLog(config: HostConfig, extras: HostExtras, teardown: Teardown): Promise<Logger> {
  await mkdir(config.dataDir, { recursive: true });
  const hostLog = createHostLogger({ dir: config.hostLogsDir, level: config.logLevel, console: extras.logToConsole ?? false });
  teardown.push(() => hostLog.shutdown());
  return hostLog.logger;
}

/** Before anything touches a run: the data folder, then the database, are this host's alone. */
async function claimDatabase(
  config: HostConfig,
  opts: { startedAt: Date; logger: Logger; teardown: Teardown; onLeaseLost(reason: Error): void },
): Promise<{ store: Store; lease: HostLease }> {
  const { logger, teardown } = opts;
  const identity: HostIdentity = {
    hostId: config.hostId,
    instance: randomUUID(),
    pid: process.pid,
    hostname: hostname(),
    version: HOST_VERSION,
    dataDir: config.dataDir,
  };
  const folder = await lockDataDir({
    dir: config.dataDir,
    holder: { ...identity, startedAt: opts.startedAt.toISOString(), db: describeDb(config.db) },
    staleMs: config.leaseMs,
    logger,
  });
  teardown.push(() => folder.release());
  const store = await createStore(config.db, logger.child({ part: 'store' }));
  teardown.push(() => store.close());
  const lease = await takeHostLease(
    { hosts: store.hosts, folder, leaseMs: config.leaseMs, logger: logger.child({ part: 'lease' }), onLost: opts.onLeaseLost },
    identity,
  );
  // Pushed before the dispatcher's drain, so it runs after it: the lease is held until the runs are recorded.
  teardown.push(() => lease.release());
  return { store, lease };
}

/** One executor per job kind; then what jobs of dead host processes left running is ended. */
function makeExecutors(config: HostConfig, logger: Logger, teardown: Teardown) {
  const executors = {
    thread: createThreadExecutor({ config, logger: logger.child({ part: 'thread' }) }),
    exec: createExecExecutor({ config, logger: logger.child({ part: 'exec' }) }),
    module: createModuleExecutor({ config, logger: logger.child({ part: 'module' }) }),
    isolate: createIsolateExecutor({ config, logger: logger.child({ part: 'isolate' }) }),
  };
  teardown.push(async () => {
    await Promise.allSettled(Object.values(executors).map((e) => e.close()));
  });
  // What thread and module jobs spawned under a host that was killed (SIGKILL) is still running: end it (docs/isolation.md).
  const orphaned = killOrphanedGroups();
  if (orphaned) logger.warn('killed the child processes that thread and module jobs of dead host processes left running', { hosts: orphaned });
  return executors;
}

type HostExecutors = ReturnType<typeof makeExecutors>;

interface Wiring {
  config: HostConfig;
  store: Store;
  executors: HostExecutors;
  runLogs: RunLogStore;
  logger: Logger;
}

/** What runs jobs: the dispatcher, the engine that schedules them, and the resolvers that make sub-jobs. */
function makeRuntime(deps: Wiring & { teardown: Teardown }) {
  const { config, store, executors, runLogs, logger, teardown } = deps;
  const targets = new CachedTargets(store);
  // Late-bound: the resolver service needs the engine, which needs the dispatcher, which needs the reconciler.
  let resolvers: ResolverService | null = null;
  const reconcile: Reconciler = (job, specs, runId) => {
    if (!resolvers) return Promise.reject(new Error('the host is not ready to reconcile resolver output'));
    return resolvers.reconcile(job, specs, runId);
  };
  const bundleRuns = new BundleRuns();
  const dispatcher = new Dispatcher({
    config, store, executors, logs: runLogs, targets, bundleRuns, reconcile, hidePaths: serverPathHider(config), logger: logger.child({ part: 'dispatch' }),
  });
  teardown.push(() => dispatcher.shutdown(config.shutdownGraceMs));
  const engine = new Engine({ store, dispatcher, logger, fireLeadMs: config.fireLeadMs });
  resolvers = new ResolverService({ store, engine, config, logger: logger.child({ part: 'resolvers' }) });
  teardown.push(async () => engine.stop());
  return { targets, bundleRuns, dispatcher, engine };
}

/** The use cases the REST API calls. */
function makeServices(deps: Wiring & ReturnType<typeof makeRuntime>) {
  const { config, store, executors, runLogs, logger, targets, bundleRuns, dispatcher, engine } = deps;
  const access = new Access(store);
  const intake = createBundleIntake({ config, logger, scan: createBundleScanner({ config, logger: logger.child({ part: 'bundles' }) }) });
  const projects = new ProjectService({ store, access, intake, executors, targets, bundleRuns, engine, logger });
  const jobs = new JobService({ config, store, access, engine });
  const runs = new RunService({ store, access, dispatcher, engine, logs: runLogs });
  return { access, projects, jobs, runs };
}

/** Runs left over by the last host are settled, the samples seeded if asked, then the schedule starts. */
async function startScheduling(
  deps: Omit<Wiring, 'executors'> & ReturnType<typeof makeRuntime> & ReturnType<typeof makeServices> & { teardown: Teardown },
): Promise<RecoveryReport> {
  const { config, store, runLogs, logger, engine, dispatcher, projects, jobs, teardown } = deps;
  const recovery = await recover({ store, engine, logs: runLogs, logger });
  if (config.seedSamples) await seedSamples({ config, store, projects, jobs, logger });
  engine.start();
  const catchUp = new MissedFireCatchUp({ store, dispatcher, engine, logger: logger.child({ part: 'catch-up' }) });
  catchUp.start();
  teardown.push(() => catchUp.stop());
  return recovery;
}

/** The koa app over the services, with the host's own views (next fires, this host, metrics, readiness). */
function makeWebApp(
  deps: Pick<Wiring, 'config' | 'store' | 'logger' | 'executors'> &
    ReturnType<typeof makeRuntime> &
    ReturnType<typeof makeServices> & { auth: AuthService; startedAt: Date; ready(): boolean },
): Koa {
  const { config, store, executors, auth, logger, startedAt, engine, dispatcher, access, projects, jobs, runs } = deps;
  return createWebApp({
    config,
    database: store.health,
    auth,
    access,
    events: new EventService(store, access),
    dashboard: new DashboardService({ store, access, engine }),
    projects,
    jobs,
    runs,
    logger,
    nextFireOf: (id) => engine.nextFireOf(id),
    hostInfo: () => ({
      id: config.hostId,
      startedAt,
      db: config.db.dialect,
      scheduledJobs: engine.scheduler.size,
      activeRuns: dispatcher.activeCount,
      pid: process.pid,
      pools: {
        threadWorkers: executors.thread.threadCount(),
        moduleContexts: executors.module.threadCount(),
        moduleSpareWorkers: executors.module.spares().waiting,
        isolates: executors.isolate.isolateCount(),
        execGroups: executors.exec.runningCount(),
        execContainment: executors.exec.containment,
        execSpawn: executors.exec.spawner,
      },
    }),
    ready: deps.ready,
    metrics: () => readHostMetrics({ store, engine, dispatcher }),
  });
}
