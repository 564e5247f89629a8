/**
 * The `exec` executor: runs a command line as a child process in its own process group, started by native-spawn.ts
 * (a vfork from the native addon, or child_process.spawn; the exec folder holds every use of child_process).
 * stdout → info lines, stderr → warn lines of the run's log; the last non-empty stdout line is the result.
 * Kill = SIGTERM to the group, SIGKILL after killGraceMs; whatever the command left running in its group when it
 * exits is killed too, so a run never leaves processes behind. The run's JOBCENTER_CONFIG_FILE and, without a bundle,
 * its working folder come from the executor's run folder (run-folder.ts) and go with the run.
 * What the group used is sampled from /proc while it runs (group-usage.ts), or read from the run's cgroup.
 *
 * Each run is held by the executor's containment (containment.ts, chosen once at start): in a cgroup where the
 * machine allows it, so that no descendant outlives the run (setsid ones included) and the job's memoryLimitMb is
 * the kernel's limit; else in a PID namespace, else by its process group alone.
 */
import { existsSync } from 'node:fs';
import type { HostConfig } from '../../config/index.js';
import { reasonText, serializeError, type SerializedError } from '../../errors/index.js';
import { abortedOutcome, failure, type Executor, type RunHooks, type RunOutcome, type RunRequest } from '../shared/executor.js';
import type { Logger } from '../../log/logger.js';
import { lookUpCommand } from '../shared/command-lookup.js';
import { watchAbort } from '../shared/abort-watch.js';
import { createContainment, type CellReport, type Containment, type RunCell } from './containment.js';
import { execEnv, execRunFile } from './exec-env.js';
import { GroupUsage } from './group-usage.js';
import { createLineSplitter } from './line-splitter.js';
import { createSpawner, type RunProcess, type Spawner } from './native-spawn.js';
import { createRunFolder } from './run-folder.js';

/** After the command exited, how long its output pipes may take to drain. */
const PIPE_DRAIN_MS = 1_000;
/** A stderr line quoted in a failure message is cut to this length. */
const STDERR_QUOTE_CHARS = 1_000;

export interface ExecExecutor extends Executor {
  /** Process groups currently running (metrics, and tests that prove nothing leaked). */
  runningCount(): number;
  /** The containment in use (docs/isolation.md, "How exec runs are contained"). */
  readonly containment: Containment['kind'];
  /** Whether a job's memoryLimitMb is applied here (only a memory cgroup can). */
  readonly limitsMemory: boolean;
  /** How commands are started (native-spawn.ts): by the native addon's vfork, or by libuv's fork. */
  readonly spawner: Spawner['kind'];
}

interface Spawned {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly memoryLimitMb: number | null;
}

type Ending = { readonly code: number | null; readonly signal: NodeJS.Signals | null } | { readonly error: Error };

export function createExecExecutor(deps: { config: HostConfig; logger: Logger }): ExecExecutor {
  const { config } = deps;
  const logger = deps.logger.child({ component: 'exec-executor' });
  const folder = createRunFolder(logger);
  const containment = createContainment(config.execContainment, logger);
  const spawner = createSpawner(config.execSpawn, (why) => logger.info('exec commands are started by a fork of the host', { why }));
  const groups = new Map<RunProcess, RunCell>();
  const runs = new Set<Promise<RunOutcome>>();
  let closed = false;

  async function execute(request: RunRequest, hooks: RunHooks): Promise<RunOutcome> {
    if (closed) return abortedOutcome('the exec executor is closed');
    if (hooks.signal.aborted) return abortedOutcome(`run aborted before it started: ${reasonText(hooks.signal.reason)}`);
    const argv = request.entry;
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
      return failure({ name: 'Error', message: 'an exec job entry must be a non-empty argv array of strings' });
    }
    if (request.bundle && !existsSync(request.bundle.dir)) {
      return failure({ name: 'Error', message: `bundle folder ${request.bundle.dir} does not exist` });
    }
    const run = runWithFiles(request, argv as readonly string[], hooks).catch((err: unknown) => failure(serializeError(err)));
    runs.add(run);
    try {
      return await run;
    } finally {
      runs.delete(run);
    }
  }

  async function runWithFiles(request: RunRequest, argv: readonly string[], hooks: RunHooks): Promise<RunOutcome> {
    const files = await folder.create(JSON.stringify(execRunFile(request)), !request.bundle?.dir);
    try {
      const [command, args] = request.shell ? ['/bin/sh', ['-c', argv.join(' ')]] : [argv[0], argv.slice(1)];
      const cwd = files.workDir ?? request.bundle!.dir;
      const env = execEnv(config.jobEnv, request, files.configFile);
      return await spawnAndWait({ command, args, cwd, env, memoryLimitMb: request.memoryLimitMb }, hooks);
    } finally {
      await files.remove().catch((err: unknown) => {
        logger.warn('could not remove the files of an exec run', { runId: request.runId, file: files.configFile, err: String(err) });
      });
    }
  }

  async function spawnAndWait(spec: Spawned, hooks: RunHooks): Promise<RunOutcome> {
    let cell: RunCell;
    try {
      cell = containment.enter(spec.memoryLimitMb);
    } catch (err) {
      return failure({ name: 'Error', message: `could not contain the run (${containment.kind}): ${(err as Error).message}` });
    }
    if (spec.memoryLimitMb !== null && !cell.limitsMemory) {
      hooks.log('warn', `memoryLimitMb ${spec.memoryLimitMb} is not applied: exec containment "${containment.kind}" has no memory limit on this host`);
    }
    let child: RunProcess;
    try {
      // The same check spawn() makes, first: a wrapper would report a missing command as a shell error, and the
      // native spawner execs the file found here.
      const file = checkCommand(spec);
      child = spawner.start({ file, command: spec.command, args: spec.args, cwd: spec.cwd, env: spec.env }, cell);
    } catch (err) {
      await cell.end();
      return failure(spawnFailure(err, spec.command));
    }
    groups.set(child, cell);
    child.once('spawn', () => hooks.started?.(Date.now()));
    // spawn() returns once the command is exec'd (or failed to be: then there is no pid and nothing to measure).
    const usage = child.pid === undefined || (cell.measuresCpu && cell.measuresMemory) ? null : new GroupUsage(child.pid);
    const output = captureOutput(child, hooks);
    const stopKill = killOnAbort(child, cell, hooks.signal, usage);
    try {
      const ending = await waitForEnd(child);
      const sampled = usage?.stop() ?? {};
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      // At the run's end its processes go with it: whatever the command left running, in its group or not.
      const report = await cell.end();
      await output.drained();
      if ('error' in ending) return failure(spawnFailure(ending.error, spec.command));
      const outcome = outcomeOf(ending, cell, output.lastStdout(), output.lastStderr(), hooks.signal);
      return { ...memoryVerdict(outcome, report, spec.memoryLimitMb, hooks), ...sampled, ...measuredBy(report) };
    } finally {
      stopKill();
      groups.delete(child);
    }
  }

  /** `usage` is read just before each signal: the group's last figures while it still lives. */
  function killOnAbort(child: RunProcess, cell: RunCell, signal: AbortSignal, usage: GroupUsage | null): () => void {
    let graceTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      if (child.pid === undefined) return;
      usage?.sample();
      killGroup(child.pid, 'SIGTERM');
      graceTimer = setTimeout(() => {
        if (child.pid === undefined) return;
        usage?.sample();
        killGroup(child.pid, 'SIGKILL');
        cell.killAll();
      }, config.killGraceMs);
    };
    const unwatch = watchAbort(signal, onAbort);
    return () => {
      clearTimeout(graceTimer);
      unwatch();
    };
  }

  function outcomeOf(ending: Exclude<Ending, { error: Error }>, cell: RunCell, stdout: string | null, stderr: string | null, signal: AbortSignal): RunOutcome {
    const relayed = ending.signal ? null : cell.signalOfExitCode(ending.code);
    const how = ending.signal
      ? `killed by ${ending.signal}`
      : relayed
        ? `killed by ${relayed} (exit status ${ending.code} of the PID namespace's init)`
        : `exited with code ${ending.code}`;
    if (closed) return abortedOutcome(`the exec executor was closed while the run was in flight (${how})`);
    if (signal.aborted) return abortedOutcome(`${how} after abort: ${reasonText(signal.reason)}`);
    if (ending.code === 0) return { ok: true, result: stdout === null ? null : stdout.slice(0, config.resultMaxChars) };
    const quote = stderr ? `: ${stderr.slice(0, STDERR_QUOTE_CHARS)}` : '';
    const code = ending.signal ?? relayed;
    return failure({ name: 'ExecError', message: `${how}${quote}`, ...(code ? { code } : {}) });
  }

  return {
    execute,
    async retire() {
      // exec keeps no loaded code: nothing to drop.
    },
    async close() {
      closed = true;
      for (const [child, cell] of groups) {
        if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
        cell.killAll();
      }
      await Promise.allSettled([...runs]);
      await containment.close();
      await folder.close();
    },
    runningCount: () => groups.size,
    containment: containment.kind,
    limitsMemory: containment.limitsMemory,
    get spawner() {
      return spawner.kind;
    },
  };
}

/**
 * A run whose processes the kernel killed at the memory limit: a failure that names the limit (the run's own verdict,
 * a non-zero exit or a signal, is quoted). A run that still succeeded, or was aborted anyway, keeps its outcome, and
 * its log says what was killed.
 */
function memoryVerdict(outcome: RunOutcome, report: CellReport, memoryLimitMb: number | null, hooks: RunHooks): RunOutcome {
  if (report.oomKills === 0) return outcome;
  const killed = `the kernel killed ${report.oomKills} process${report.oomKills === 1 ? '' : 'es'} of this run`;
  hooks.log('warn', `${killed} at its memory limit of ${memoryLimitMb} MB`);
  if (outcome.ok || outcome.aborted) return outcome;
  return failure({ name: 'MemoryLimitError', message: `job exceeded its memory limit of ${memoryLimitMb} MB: ${killed} (${outcome.error.message})` });
}

/** The cell's own figures, where it has them, count every process of the run (the samples miss what left the group). */
function measuredBy(report: CellReport): { cpuMs?: number; peakMemoryMb?: number } {
  const figures: { cpuMs?: number; peakMemoryMb?: number } = {};
  if (report.cpuMs !== undefined) figures.cpuMs = report.cpuMs;
  if (report.peakMemoryMb !== undefined) figures.peakMemoryMb = report.peakMemoryMb;
  return figures;
}

/** What spawn() would find: a command with a slash from the working folder, else the first match on PATH. */
function checkCommand(spec: Spawned): string {
  const found = lookUpCommand(spec.command, spec.cwd, spec.env.PATH ?? '/usr/local/bin:/usr/bin:/bin');
  if (found && 'file' in found) return found.file;
  throw Object.assign(new Error(found ? `${spec.command}: permission denied` : `${spec.command}: not found`), { code: found ? 'EACCES' : 'ENOENT' });
}

/** The first 'error' (spawn failed) or 'exit'; spawn failures may also emit 'close', which is not waited for. */
function waitForEnd(child: RunProcess): Promise<Ending> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

interface CapturedOutput {
  drained(): Promise<void>;
  lastStdout(): string | null;
  lastStderr(): string | null;
}

function captureOutput(child: RunProcess, hooks: RunHooks): CapturedOutput {
  let lastOut: string | null = null;
  let lastErr: string | null = null;
  const out = createLineSplitter((line) => {
    hooks.log('info', line);
    if (line.trim() !== '') lastOut = line;
  });
  const err = createLineSplitter((line) => {
    hooks.log('warn', line);
    if (line.trim() !== '') lastErr = line;
  });
  // 'end' says every chunk was delivered; 'close' covers a stream that errored or was destroyed without one.
  let open = 0;
  let onDrained: (() => void) | null = null;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    open++;
    let done = false;
    const ended = (): void => {
      if (done) return;
      done = true;
      if (--open === 0) onDrained?.();
    };
    stream.once('end', ended);
    stream.once('close', ended);
  }
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  return {
    async drained() {
      if (open > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          onDrained = resolve;
          timer = setTimeout(resolve, PIPE_DRAIN_MS);
        });
        clearTimeout(timer);
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      out.end();
      err.end();
    },
    lastStdout: () => lastOut,
    lastStderr: () => lastErr,
  };
}

/** Signals the whole process group (negative pid): grandchildren die with the command. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function spawnFailure(err: unknown, command: string): SerializedError {
  const error = serializeError(err);
  if (error.code === 'ENOENT') return { ...error, message: `command not found: ${command}` };
  if (error.code === 'EACCES') return { ...error, message: `command is not executable (permission denied): ${command}` };
  return { ...error, message: `could not start ${command}: ${error.message}` };
}
