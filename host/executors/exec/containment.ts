/**
 * How an exec run is held together so that nothing it started outlives it. Chosen once when the executor is made
 * (HostConfig.execContainment, `auto` by default), and logged with what it covers and what it does not:
 * - `cgroup`: each run in its own cgroup (cgroup-containment.ts): every descendant, setsid ones included, is killed
 *   at the run's end, on kill and on timeout; memory limited by the job's memoryLimitMb and measured where a memory
 *   controller can be used. Needs write access to the cgroup file system (root, or a delegated subtree).
 * - `pid-namespace`: the command runs under `unshare --pid --fork --kill-child` with a small shell as the namespace's
 *   init: when the command exits the init exits, and the kernel kills every process left in the namespace. No
 *   memory limit. As a non-root user, a user namespace is added (`--user --map-root-user`).
 * - `process-group`: the command's process group is signalled, as before: a descendant that leaves the group
 *   (setsid, setpgid) escapes. No memory limit.
 */
import { spawnSync } from 'node:child_process';
import type { ContainmentChoice } from '../../config/index.js';
import type { Logger } from '../../log/logger.js';
import type { Containment } from './cell.js';
import { createCgroupContainment } from './cgroup-containment.js';
import { signalName } from './native-spawn.js';

export type { CellReport, Containment, ContainmentKind, RunCell } from './cell.js';

/** Picks the containment: the one asked for (an error when this machine cannot give it), or the best one here. */
export function createContainment(choice: ContainmentChoice, logger: Logger): Containment {
  const containment = pick(choice, logger);
  logger.info(`exec jobs run with containment "${containment.kind}"`, { covers: containment.covers, misses: containment.misses });
  return containment;
}

function pick(choice: ContainmentChoice, logger: Logger): Containment {
  if (choice === 'process-group') return processGroup();
  if (choice === 'cgroup' || choice === 'auto') {
    const cgroup = createCgroupContainment(logger);
    if (cgroup.ok) return cgroup.containment;
    if (choice === 'cgroup') throw new Error(`exec containment "cgroup" is not available here: ${cgroup.why}`);
    logger.info('exec jobs cannot run in cgroups here', { why: cgroup.why });
  }
  const unshare = unshareArgs();
  if (unshare) return pidNamespace(unshare);
  if (choice === 'pid-namespace') throw new Error('exec containment "pid-namespace" is not available here: `unshare --pid --fork --kill-child` failed');
  return processGroup();
}

function processGroup(): Containment {
  return {
    kind: 'process-group',
    covers: "the command's process group is signalled on kill, on timeout and when the command exits",
    misses: 'a descendant that leaves the group (setsid, setpgid, a daemon) outlives the run; no memory limit (memoryLimitMb is not applied); memory is sampled from /proc',
    limitsMemory: false,
    enter: () => ({
      wrap: (command, args) => [command, args],
      joins: [],
      limitsMemory: false,
      measuresCpu: false,
      measuresMemory: false,
      signalOfExitCode: () => null,
      killAll: () => undefined,
      end: async () => ({ oomKills: 0 }),
    }),
    close: async () => undefined,
  };
}

/**
 * The namespace's init is a shell that runs the command as its child and exits with its status: as init, the
 * command itself would ignore SIGTERM (an init only gets the signals it has handlers for) and would have to reap
 * orphans. A command killed by a signal therefore ends as exit code 128 + n.
 */
const INIT_SCRIPT = '"$@" & wait $!';

/** `unshare`: the command line that starts a namespace (unshareArgs). */
function pidNamespace(unshare: readonly string[]): Containment {
  return {
    kind: 'pid-namespace',
    covers: `each run in its own PID namespace: when the command exits, or is killed, every process it started dies with it (setsid ones too)${unshare[0] === 'setpriv' ? ', and so does a run whose host process dies' : ''}`,
    misses: `no memory limit (memoryLimitMb is not applied); memory is sampled from /proc and misses processes that left the process group${unshare[0] === 'setpriv' ? '' : '; if the host process itself is SIGKILLed, its running commands live on (no setpriv --pdeathsig here)'}`,
    limitsMemory: false,
    enter: () => ({
      wrap: (command, args) => [unshare[0]!, [...unshare.slice(1), '/bin/sh', '-c', INIT_SCRIPT, 'jobcenter-init', command, ...args]],
      joins: null,
      limitsMemory: false,
      measuresCpu: false,
      measuresMemory: false,
      signalOfExitCode: signalOfShellStatus,
      killAll: () => undefined,
      end: async () => ({ oomKills: 0 }),
    }),
    close: async () => undefined,
  };
}

/**
 * The command line that starts a namespace here (root: a PID namespace; another user: a user namespace too), or
 * null. Through `setpriv --pdeathsig KILL` where it exists: unshare then dies with the host even when the host is
 * SIGKILLed (the signal comes when the thread that spawned it ends: Node spawns from the main thread), and the
 * namespace with it.
 */
function unshareArgs(): readonly string[] | null {
  for (const args of [['--pid', '--fork', '--kill-child'], ['--user', '--map-root-user', '--pid', '--fork', '--kill-child']]) {
    for (const prefix of [['setpriv', '--pdeathsig', 'KILL', 'unshare'], ['unshare']]) {
      const probe = spawnSync(prefix[0]!, [...prefix.slice(1), ...args, '/bin/true'], { stdio: 'ignore', timeout: 5_000 });
      if (probe.status === 0) return [...prefix, ...args];
    }
  }
  return null;
}

/** A shell's status 128 + n means "killed by signal n". */
function signalOfShellStatus(code: number | null): NodeJS.Signals | null {
  return code === null || code <= 128 ? null : signalName(code - 128);
}
