/**
 * The `jobcenter-sdk` command line: from an empty folder to a bundle on a running host, and its jobs and runs there.
 * `main(argv)` returns the exit code; bin/jobcenter-sdk.js sets it.
 */
import { BUILD_HELP, buildCommand } from './build.js';
import { CliError } from './args.js';
import { INIT_HELP, initCommand } from './init.js';
import { PACK_HELP, packCommand } from './pack.js';
import { JOBS_HELP, jobsCommand, TRIGGER_HELP, triggerCommand } from './operate-jobs.js';
import { KILL_HELP, killCommand, LOGS_HELP, logsCommand, RUNS_HELP, runsCommand } from './operate-runs.js';
import { LOGIN_HELP, loginCommand, UPLOAD_HELP, uploadCommand } from './remote.js';
import { RUN_HELP, runCommand } from './run.js';

const USAGE = `Usage: jobcenter-sdk <command> [options]

Commands:
  init <dir>        create a job project (--kind thread|module|isolate|exec)
  build             type-check and compile the project's TypeScript (src/, test/) into dist/
  run <export>      run one job locally with the context the host gives it
  pack              build the bundle zip (jobcenter.json checked)
  login             log in to a host and keep a token
  upload [zip]      upload the bundle to a project on the host
  jobs              list the jobs on the host (--project, --q NAME)
  trigger <job>     run a job now (--params JSON, --wait)
  runs              list runs, newest first (--job, --status, --limit)
  logs <runId>      print a run's log (--follow: until the run ends)
  kill <runId>      kill a queued or running run

\`jobcenter-sdk <command> --help\` tells more.`;

type Command = (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  init: { run: initCommand, help: INIT_HELP },
  build: { run: buildCommand, help: BUILD_HELP },
  run: { run: runCommand, help: RUN_HELP },
  pack: { run: packCommand, help: PACK_HELP },
  login: { run: loginCommand, help: LOGIN_HELP },
  upload: { run: uploadCommand, help: UPLOAD_HELP },
  jobs: { run: jobsCommand, help: JOBS_HELP },
  trigger: { run: triggerCommand, help: TRIGGER_HELP },
  runs: { run: runsCommand, help: RUNS_HELP },
  logs: { run: logsCommand, help: LOGS_HELP },
  kill: { run: killCommand, help: KILL_HELP },
};

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' && rest[0] ? COMMANDS[rest[0]]?.help : undefined;
    out.write(`${topic ?? USAGE}\n`);
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') return void out.write(`${await version()}\n`), 0;
  const command = COMMANDS[name];
  if (!command) {
    err.write(`jobcenter-sdk: unknown command "${name}"\n\n${USAGE}\n`);
    return 1;
  }
  try {
    return await command.run(rest, out, err);
  } catch (e) {
    if (e instanceof CliError) {
      err.write(`jobcenter-sdk ${name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
