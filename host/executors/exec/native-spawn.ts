/**
 * How an exec run's command is started. Two ways, one shape (`RunProcess`, the part of a ChildProcess the executor
 * uses):
 * - `vfork`: the native addon (native/spawn/spawn.c, built into dist/native/ by `npm run build`). The host is not
 *   forked, so a spawn costs the same in a 50 MB host as in a 500 MB one, and the child joins the run's cgroups
 *   itself before it execs: no shell in front of the command. Measured here (200 spawns of /bin/true, p50): 0.8 ms
 *   against 2.1 ms for libuv's fork with the joining shell at 60 MB RSS, and 0.75 against 16.5 ms at 430 MB.
 * - `fork`: child_process.spawn (libuv forks on Linux), with whatever wrapper the cell needs. Used where the addon is
 *   not built (no C compiler or Node headers at build time), for a cell that must wrap the command (a PID
 *   namespace), and when the host is told to (`execSpawn: 'fork'`, JOBCENTER_EXEC_SPAWN=fork).
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { SpawnChoice } from '../../config/index.js';
import type { RunCell } from './cell.js';

/** The addon, relative to this file's place in dist/host/executors/exec/. */
const ADDON = fileURLToPath(new URL('../../../native/jobcenter_spawn.node', import.meta.url));

interface Addon {
  spawn(
    file: string,
    argv: readonly string[],
    env: readonly string[],
    cwd: string,
    joins: readonly string[],
    onExit: (code: number | null, signal: number | null) => void,
  ): [pid: number, stdout: number, stderr: number];
}

/** What the executor uses of a started command: ChildProcess has it, and so does the addon's child. */
export interface RunProcess extends EventEmitter {
  readonly pid?: number | undefined;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
}

export interface Launch {
  /** The executable as looked up on PATH (an absolute path), and the command as the job wrote it (argv[0]). */
  readonly file: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
}

export interface Spawner {
  /** `vfork` while the addon is there and has not failed to load. */
  readonly kind: 'vfork' | 'fork';
  /** Starts the command in the cell; throws (with an errno `code`) when it could not be started. */
  start(launch: Launch, cell: RunCell): RunProcess;
}

/**
 * The addon is loaded by the first command it starts (~1.5 ms of a host's start otherwise, and a host without exec
 * jobs never needs it). `onFork` hears why commands are forked: at once when the addon is not built or not wanted,
 * or when it fails to load. `addonFile`: where the addon is (tests give a broken one).
 */
export function createSpawner(choice: SpawnChoice, onFork: (why: string) => void, addonFile = ADDON): Spawner {
  let addon: Addon | null | undefined;
  const useFork = (why: string): null => {
    onFork(why);
    return (addon = null);
  };
  if (choice === 'fork') useFork('execSpawn is "fork"');
  else if (!existsSync(addonFile)) useFork(`${addonFile} is not built (npm run build builds it where a C compiler and Node's headers are)`);
  const loaded = (): Addon | null => {
    if (addon !== undefined) return addon;
    try {
      return (addon = createRequire(import.meta.url)(addonFile) as Addon);
    } catch (err) {
      return useFork(`${addonFile} does not load: ${(err as Error).message}`);
    }
  };
  return {
    get kind() {
      return addon === null ? 'fork' : 'vfork';
    },
    start(launch, cell) {
      // A cell that must wrap the command (joins null) is always forked; the addon is loaded by the first other one.
      if (cell.joins !== null) {
        const native = loaded();
        if (native) return startNative(native, launch, cell.joins);
      }
      const [command, args] = cell.wrap(launch.command, launch.args);
      return spawn(command, [...args], { cwd: launch.cwd, env: launch.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    },
  };
}

/**
 * The addon's child as a RunProcess: 'spawn' on the next tick (as ChildProcess emits it), 'exit' with
 * (code, signal name) once it was reaped, its pipes as sockets.
 */
function startNative(addon: Addon, launch: Launch, joins: readonly string[]): RunProcess {
  const child = new EventEmitter() as EventEmitter & { pid?: number; stdout: Readable | null; stderr: Readable | null };
  const env = Object.entries(launch.env).map(([name, value]) => `${name}=${value}`);
  // C strings end at a NUL: refused here as child_process.spawn refuses them, never cut short.
  const texts = [launch.file, launch.cwd, ...launch.args, ...env];
  if (texts.some((text) => text.includes('\0'))) {
    throw Object.assign(new TypeError('an argument, the working folder or an environment variable holds a NUL byte'), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const [pid, out, err] = addon.spawn(launch.file, [launch.command, ...launch.args], env, launch.cwd, joins, (code, signal) => {
    child.emit('exit', code, signal === null ? null : signalName(signal));
  });
  child.pid = pid;
  child.stdout = new net.Socket({ fd: out, readable: true, writable: false });
  child.stderr = new net.Socket({ fd: err, readable: true, writable: false });
  process.nextTick(() => child.emit('spawn'));
  return child;
}

/** The name of signal number `n` (as the addon and a shell's status give it), or null for one Node does not know. */
export function signalName(n: number): NodeJS.Signals | null {
  return (Object.entries(constants.signals).find(([, number]) => number === n)?.[0] as NodeJS.Signals | undefined) ?? null;
}
