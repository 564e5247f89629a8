/**
 * The command line: `jobcenter start`, and `jobcenter users` (cli-users.ts). With main.ts, the only place that touches process signals and exit codes.
 */
import { parseArgs } from 'node:util';
import { clearFromEnvironment } from './config/environment.js';
import { optionsFromEnv, type HostOptions } from './config/index.js';
import { hasCode } from './errors/index.js';
import { usersCommand } from './cli-users.js';
import { createHost } from './main.js';

const HELP = `Usage: jobcenter start [options]
       jobcenter users reset-password NAME [options]   (a lost password: see jobcenter users --help)

Starts a JobCenter host: REST API under /api/v1, health at /healthz, metrics at /metrics.

Options (environment variable in brackets):
  --port N            port to listen on (JOBCENTER_PORT, default 8017)
  --bind ADDR         address to bind (JOBCENTER_BIND, default 0.0.0.0)
  --data-dir DIR      database file, bundles and logs (JOBCENTER_DATA_DIR, default ./data)
  --db URL            sqlite: (default) or mysql://user:pass@host:3306/db (JOBCENTER_DB_URL)
  --host-id ID        this host's name (JOBCENTER_HOST_ID, default hostname:port)
  --lease-ms N        how long this host's hold on its database and data folder lasts without a renewal
                      (JOBCENTER_LEASE_MS, default 30000; renewed every third of it)
  --log-level L       debug, info, warn or error (JOBCENTER_LOG_LEVEL, default info)
  --metrics-public    serve /metrics without a token (JOBCENTER_METRICS_PUBLIC=1; default: a token is needed)
  --exec-containment C  how exec runs are contained: auto (default), cgroup, pid-namespace or process-group
                      (JOBCENTER_EXEC_CONTAINMENT; docs/isolation.md says what each covers)
  --exec-spawn S      how exec commands are started: auto (default: the native addon's vfork where it is
                      built) or fork (child_process.spawn) (JOBCENTER_EXEC_SPAWN)
  --no-samples        do not create the sample projects on an empty database
  -h, --help          show this help

The admin password comes from JOBCENTER_ADMIN_PASSWORD; without it, a first start prints a generated one. It only
applies to an empty database (a later start logs that it was ignored): reset a lost password with
jobcenter users reset-password NAME.
SIGTERM or SIGINT stops the host gracefully (runs get a grace time); a second signal forces the exit.

One host runs per database and per data folder (until cluster mode exists): a second one refuses to start, exits
with status 1 and names the host that holds them. A clean stop frees them at once; a host that was killed frees
the database when its lease expires (--lease-ms) and the data folder at once. A host that loses its lease (it
could not renew it in time, or another host took it over) stops and exits with status 1.
`;

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'users') {
    process.exitCode = await usersCommand(argv.slice(1));
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      bind: { type: 'string' },
      'data-dir': { type: 'string' },
      db: { type: 'string' },
      'host-id': { type: 'string' },
      'log-level': { type: 'string' },
      'lease-ms': { type: 'string' },
      'exec-containment': { type: 'string' },
      'exec-spawn': { type: 'string' },
      'no-samples': { type: 'boolean' },
      'metrics-public': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return;
  }
  if (positionals[0] !== 'start' || positionals.length > 1) {
    process.stderr.write(`jobcenter: unknown command ${JSON.stringify(positionals.join(' '))}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  const options: HostOptions = { ...optionsFromEnv(), seedSamples: !values['no-samples'] };
  // Read once; job code running as this user could read it from /proc/<pid>/environ for as long as the host runs.
  for (const problem of clearFromEnvironment()) process.stderr.write(`jobcenter: warning: ${problem}\n`);
  if (values.port !== undefined) options.port = Number(values.port);
  if (values.bind !== undefined) options.bind = values.bind;
  if (values['data-dir'] !== undefined) options.dataDir = values['data-dir'];
  if (values.db !== undefined) options.dbUrl = values.db;
  if (values['host-id'] !== undefined) options.hostId = values['host-id'];
  if (values['lease-ms'] !== undefined) options.leaseMs = Number(values['lease-ms']);
  if (values['metrics-public']) options.metricsPublic = true;
  if (values['exec-containment'] !== undefined) options.execContainment = values['exec-containment'] as HostOptions['execContainment'];
  if (values['exec-spawn'] !== undefined) options.execSpawn = values['exec-spawn'] as HostOptions['execSpawn'];
  if (values['log-level'] !== undefined) options.logLevel = values['log-level'] as HostOptions['logLevel'];
  await run(options);
}

async function run(options: HostOptions): Promise<void> {
  const host = createHost(options, {
    logToConsole: true,
    onLeaseLost: (reason) => {
      process.stderr.write(`jobcenter: stopped: ${reason.message}\n`);
      process.exit(1);
    },
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`jobcenter: ${signal} again, exiting now\n`);
      process.exit(130);
    }
    process.stdout.write(`jobcenter: ${signal} received, stopping (send it again to force)\n`);
    host.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`jobcenter: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let started: Awaited<ReturnType<typeof host.start>>;
  try {
    started = await host.start();
  } catch (err) {
    // The host has closed what it opened; what is left to say is why (one line for a refusal: the port is taken,
    // another host holds the database or data folder; the stack for anything else), and a code a supervisor can act on.
    const refused = err instanceof Error && (hasCode(err, 'CONFLICT') || /^cannot listen/.test(err.message));
    const text = !(err instanceof Error) ? String(err) : refused ? err.message : (err.stack ?? err.message);
    process.stderr.write(`jobcenter: cannot start: ${text}\n`);
    process.exitCode = 1;
    return;
  }
  const { url, adminPassword } = started;
  process.stdout.write(`\nJobCenter is running at ${url}  (data: ${host.config.dataDir}, database: ${host.config.db.dialect})\n`);
  if (adminPassword) {
    process.stdout.write(`First start: user "admin" was created with password: ${adminPassword}\n(set JOBCENTER_ADMIN_PASSWORD to choose it; this is shown only once)\n\n`);
  }
}
