/**
 * Inside a thread or module worker (loaded there by executors/shared/run-leftovers.ts; the exec folder holds every use of
 * child_process): the child processes that runs spawn (spawn, exec, execFile, fork and their callback forms all go
 * through ChildProcess.prototype.spawn, which is replaced before the bundle is imported) do not outlive their run,
 * their worker or the host process.
 *
 * - Each child is started through `setpriv --pdeathsig KILL`: the kernel sends it SIGKILL when the thread that
 *   spawned it ends, i.e. when its worker ends or the host process dies, even by SIGKILL.
 * - Where a cgroup v2 is writable (child-groups.ts), the child first puts itself in its run's cgroup through a
 *   one-line `sh` wrapper, before it execs the command, so every descendant (setsid ones too) is in there with it.
 *   Elsewhere the child gets a process group of its own (as with `detached: true`), which a setsid grandchild leaves.
 * - At the run's end, what is still running gets SIGTERM, then, after a grace, SIGKILL (cgroup.kill, or the group).
 *
 * The command is looked up first: one that does not exist is spawned as it is, so the job sees Node's own ENOENT.
 * What a run spawns with the sync forms (spawnSync, execSync) ended before the call returned and is not tracked.
 */
import { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { append, setTimeoutSafe } from '../shared/worker-primordials.js';
import { pidsIn } from '../shared/cgroups.js';
import { killGroup, makeGroup, processGroupRoot, removeGroup, workerGroup } from '../shared/child-groups.js';
import { isExecutable, lookUpCommand } from '../shared/command-lookup.js';

/** Between a run's end and SIGKILL to what it left running (the host's killGraceMs does not reach workers). */
export const CHILD_GRACE_MS = 1_000;

const SETPRIV = '/usr/bin/setpriv';
const SHELL = '/bin/sh';
/** `$0` is the cgroup.procs file; a write that fails leaves the child uncontained, never unstarted. */
const ENTER_GROUP = 'echo $$ 2>/dev/null >"$0"; exec "$@"';

const { apply } = Reflect;
/** ChildProcess.prototype.spawn is not in @types/node: the step every asynchronous spawn form goes through. */
const spawnable = ChildProcess.prototype as unknown as { spawn(options: SpawnOptions): unknown };
const originalSpawn = spawnable.spawn;
const originalKill = process.kill;

/** What Node passes to ChildProcess.prototype.spawn (normalizeSpawnArguments). */
interface SpawnOptions {
  file: string;
  args: string[];
  envPairs?: string[];
  cwd?: string;
  detached?: boolean;
}

/** The children of one run. */
export class RunChildren {
  readonly #children: ChildProcess[] = [];
  /** The run's cgroup folder, made on its first child; null without cgroups. */
  readonly #group: string | null;

  constructor(group: string | null) {
    this.#group = group;
  }

  get group(): string | null {
    return this.#group;
  }

  add(child: ChildProcess): void {
    append(this.#children, child);
  }

  /** SIGTERM to what is still running, SIGKILL after CHILD_GRACE_MS; logs one line when anything was. */
  end(log: (message: string) => void): void {
    const running = new Set<number>();
    for (const child of this.#children) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) running.add(child.pid);
    const group = this.#group;
    if (group) for (const pid of pidsIn(group)) running.add(pid);
    if (running.size === 0) {
      if (group) removeGroup(group);
      return;
    }
    // Without a cgroup each child leads a process group of its own (see spawnContained): the group goes too.
    const target = (pid: number): number => (group || !this.#children.some((child) => child.pid === pid) ? pid : -pid);
    for (const pid of running) signal(target(pid), 'SIGTERM');
    log(
      `${running.size} child process${running.size === 1 ? '' : 'es'} of this run (pid ${[...running].join(', ')}) ` +
        `still running at its end: sent SIGTERM, and SIGKILL after ${CHILD_GRACE_MS} ms`,
    );
    const timer = setTimeoutSafe(() => {
      if (group && killGroup(group)) return;
      for (const pid of running) signal(target(pid), 'SIGKILL');
    }, CHILD_GRACE_MS);
    timer.unref();
  }
}

/** process.kill as it was at load; a process already gone is fine. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    apply(originalKill, process, [pid, name]);
  } catch {
    // ESRCH: it ended on its own.
  }
}

/**
 * Replaces ChildProcess.prototype.spawn of this worker. `owner()`: the children of the run whose code is executing
 * (made on its first child by the factory returned here), or null outside any run: those children are still tied to
 * the worker (pdeathsig, and its cgroup folder `outside`). Returns the factory of a run's RunChildren.
 */
export function containChildren(owner: () => RunChildren | null): (runId: string) => RunChildren {
  const root = processGroupRoot();
  const workerDir = root ? workerGroup(root, threadId) : null;
  const deathSignal = process.platform === 'linux' && isExecutable(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', '--'] : [];
  spawnable.spawn = function spawnContained(this: ChildProcess, options: SpawnOptions) {
    if (typeof options !== 'object' || options === null || typeof options.file !== 'string' || !Array.isArray(options.args)) {
      return apply(originalSpawn, this, [options]);
    }
    const { file, args } = options;
    if (!findCommand(file, options)) return apply(originalSpawn, this, [options]);
    const children = owner();
    const group = children ? children.group : workerDir && path.join(workerDir, 'outside');
    const grouped = group !== null && makeGroup(group);
    const enter = grouped ? [SHELL, '-c', ENTER_GROUP, path.join(group, 'cgroup.procs')] : [];
    const prefix = [...deathSignal, ...enter];
    const command = prefix.length > 0 ? { file: prefix[0]!, args: [...prefix, file, ...args.slice(1)] } : { file, args };
    const result: unknown = apply(originalSpawn, this, [{ ...options, ...command, detached: grouped ? options.detached : true }]);
    // What the job sees of its child stays what it asked for.
    const shown = this as { spawnfile: string; spawnargs: string[] };
    shown.spawnfile = file;
    shown.spawnargs = args;
    children?.add(this);
    return result;
  };
  return (runId) => new RunChildren(workerDir && path.join(workerDir, runId));
}

/** Whether `file` resolves to an executable the way the spawn would look it up (the child's PATH, else a default). */
function findCommand(file: string, options: SpawnOptions): boolean {
  let search = '/usr/bin:/bin';
  for (const pair of options.envPairs ?? []) if (pair.startsWith('PATH=')) search = pair.slice(5);
  const found = lookUpCommand(file, options.cwd ?? process.cwd(), search);
  return found !== null && 'file' in found;
}
