/**
 * Exec runs in cgroups. The host makes one folder of its own under its own cgroup, in the cgroup v2 hierarchy and,
 * where one is mounted and writable, in the v1 memory hierarchy (a v1/v2 hybrid keeps memory in v1); each run gets a
 * folder in each. The command is in its cells before it can fork: the native spawner's child writes itself into
 * each cell's cgroup.procs before it execs (`joins`), and a fork goes through
 * `sh -c 'echo $$ > <cell>/cgroup.procs … && exec "$@"'` (`wrap`). At the run's end (the command exited, was
 * killed, or timed out) the v2 `cgroup.kill` kills every process left in the run's cgroup, setsid ones included;
 * the host waits until it is empty, reads the run's figures and removes the folders.
 *
 * - Kill and CPU: cgroup v2, `cgroup.kill` (Linux 5.14+) and `cpu.stat` (no controller needed). Without them the
 *   containment is not used (createContainment falls back).
 * - Memory (optional): the v1 memory controller: `memory.limit_in_bytes` from the job's memoryLimitMb (and
 *   `memory.memsw.limit_in_bytes` where swap is accounted), the peak from `memory.max_usage_in_bytes` (it counts the
 *   page cache the run caused, as the kernel charges it), and OOM kills from `memory.oom_control`.
 *
 * Names: `jobcenter-exec-<pid>-<process start time>-<random>` under the host's own cgroup, so two hosts on one machine,
 * or two in one process, never share a folder; a new host removes the folders of hosts whose process is gone (a crash),
 * killing what is still in them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log/logger.js';
import { cgroupMounts, killAllIn, ownCgroups, pidsIn, readText, startTimeOf, tryRmdir } from '../shared/cgroups.js';
import type { CellReport, Containment, RunCell } from './cell.js';

const PREFIX = 'jobcenter-exec-';
const NAME = /^jobcenter-exec-(\d+)-(\d+)-[0-9a-f]+$/;
/** How long a killed cell may take to empty (measured: 2–4 ms) before the host gives up waiting and moves on. */
const EMPTY_WAIT_MS = 2_000;
const EMPTY_POLL_MS = 2;
const MB = 1024 * 1024;

/** The command runs as `$0`'s last argument list: the shell puts itself in each cell, then becomes the command. */
function wrapperScript(cells: number): string {
  const joins = Array.from({ length: cells }, (_, i) => `echo $$ > "$${i + 1}/cgroup.procs"`).join(' && ');
  return `${joins} && shift ${cells} && exec "$@"`;
}

export type CgroupProbe = { readonly ok: true; readonly containment: Containment } | { readonly ok: false; readonly why: string };

export function createCgroupContainment(logger: Logger): CgroupProbe {
  const mounts = cgroupMounts();
  const own = ownCgroups();
  if (!mounts.v2) return { ok: false, why: 'no cgroup v2 file system is mounted' };
  if (own.v2 === null) return { ok: false, why: 'this process has no cgroup v2 path in /proc/self/cgroup' };
  const name = `${PREFIX}${process.pid}-${startTimeOf(process.pid)}-${randomBytes(4).toString('hex')}`;
  const v2Parent = path.join(mounts.v2, own.v2);
  const v2Root = path.join(v2Parent, name);
  try {
    mkdirSync(v2Root);
  } catch (err) {
    return { ok: false, why: `cannot create ${v2Root}: ${(err as Error).message}` };
  }
  if (!existsSync(path.join(v2Root, 'cgroup.kill'))) {
    rmdirSync(v2Root);
    return { ok: false, why: 'cgroup.kill is missing (Linux 5.14 or later is needed)' };
  }
  const memoryParent = mounts.memory && own.memory !== null ? path.join(mounts.memory, own.memory) : null;
  const memoryRoot = memoryParent ? makeMemoryRoot(memoryParent, name, logger) : null;
  const leftovers = removeLeftovers([v2Parent, memoryParent].filter((p): p is string => p !== null), logger);
  return { ok: true, containment: cgroupContainment(v2Root, memoryRoot, leftovers, logger) };
}

function makeMemoryRoot(parent: string, name: string, logger: Logger): string | null {
  const root = path.join(parent, name);
  try {
    mkdirSync(root);
    return root;
  } catch (err) {
    logger.info('exec runs get no memory limit: the v1 memory cgroup cannot be used', { dir: root, err: (err as Error).message });
    return null;
  }
}

function cgroupContainment(v2Root: string, memoryRoot: string | null, leftovers: Promise<void>, logger: Logger): Containment {
  let count = 0;
  /** Cells whose removal failed (still populated after the wait): tried again at close. */
  const stuck = new Set<string>();
  const memory = memoryRoot !== null;
  return {
    kind: 'cgroup',
    covers: `each run in its own cgroup: every process it started (setsid ones too) is killed when the command exits, on kill and on timeout; CPU from the cgroup${memory ? '; memoryLimitMb enforced and peak memory measured by the memory cgroup' : ''}`,
    misses: memory
      ? 'the v1 memory peak counts page cache the run caused; processes the run hands to another service (at, systemd, a daemon over a socket) are not its descendants'
      : 'no memory limit (no usable memory cgroup: memoryLimitMb is not applied) and memory is sampled from /proc; processes the run hands to another service are not its descendants',
    limitsMemory: memory,
    enter(memoryLimitMb) {
      const id = String(++count);
      const v2 = path.join(v2Root, id);
      mkdirSync(v2);
      let mem: string | null = null;
      try {
        if (memoryRoot !== null) {
          mem = path.join(memoryRoot, id);
          mkdirSync(mem);
          if (memoryLimitMb !== null) limitMemory(mem, memoryLimitMb);
        }
      } catch (err) {
        for (const dir of [mem, v2]) if (dir) rmdirSync(dir);
        throw err;
      }
      return cell(v2, mem, stuck, logger);
    },
    async close() {
      await leftovers;
      for (const dir of [...stuck]) {
        killCell(dir);
        if (await removeWhenEmpty(dir)) stuck.delete(dir);
      }
      for (const root of [memoryRoot, v2Root]) {
        if (root === null) continue;
        await removeHostRoot(root, logger);
      }
    },
  };
}

function limitMemory(dir: string, mb: number): void {
  const bytes = String(mb * MB);
  writeFileSync(path.join(dir, 'memory.limit_in_bytes'), bytes);
  // With swap accounting, memory + swap gets the same limit, so the run cannot go on in swap.
  const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
  if (existsSync(memsw)) writeFileSync(memsw, bytes);
}

function cell(v2: string, mem: string | null, stuck: Set<string>, logger: Logger): RunCell {
  const dirs = mem ? [v2, mem] : [v2];
  return {
    wrap: (command, args) => ['/bin/sh', ['-c', wrapperScript(dirs.length), 'jobcenter-cell', ...dirs, command, ...args]],
    joins: dirs.map((dir) => path.join(dir, 'cgroup.procs')),
    limitsMemory: mem !== null,
    measuresCpu: true,
    measuresMemory: mem !== null,
    signalOfExitCode: () => null,
    killAll: () => killCell(v2),
    async end() {
      killCell(v2);
      const empty = await waitEmpty(v2);
      const report = readReport(v2, mem);
      for (const dir of [mem, v2]) {
        if (dir === null) continue;
        if (!empty || !tryRmdir(dir)) {
          stuck.add(dir);
          logger.warn('a cell of an exec run could not be removed yet; it is killed and removed again at close', { dir });
        }
      }
      return report;
    },
  };
}

/**
 * Synchronous, as are the rmdirs at a run's end: these kernel files answer in microseconds, and each trip through
 * the thread pool cost ~0.5 ms of the run's end on a busy machine (five of them took an empty run's end to ~3 ms).
 */
function readReport(v2: string, mem: string | null): CellReport {
  const cpu = /usage_usec (\d+)/.exec(readText(path.join(v2, 'cpu.stat')));
  const report: { cpuMs?: number; peakMemoryMb?: number; oomKills: number } = { oomKills: 0 };
  if (cpu) report.cpuMs = Number(cpu[1]) / 1000;
  if (mem !== null) {
    const peak = Number(readText(path.join(mem, 'memory.max_usage_in_bytes')) || '0');
    if (peak > 0) report.peakMemoryMb = Math.round((peak / MB) * 1000) / 1000;
    const oom = /oom_kill (\d+)/.exec(readText(path.join(mem, 'memory.oom_control')));
    report.oomKills = oom ? Number(oom[1]) : 0;
  }
  return report;
}

/** v2: one write kills the whole cell; a v1 memory cell (leftovers only) has each of its processes killed. */
function killCell(dir: string): void {
  if (killAllIn(dir)) return;
  for (const pid of pidsIn(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/** v2 says so in cgroup.events; a v1 cell is empty when it lists no process (a folder that is gone lists none). */
function isEmpty(dir: string): boolean {
  const events = path.join(dir, 'cgroup.events');
  if (existsSync(events)) return /populated 0/.test(readText(events)) || !existsSync(events);
  return pidsIn(dir).length === 0;
}

async function waitEmpty(dir: string): Promise<boolean> {
  const deadline = Date.now() + EMPTY_WAIT_MS;
  for (;;) {
    if (isEmpty(dir)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, EMPTY_POLL_MS));
    killCell(dir);
  }
}

async function removeWhenEmpty(dir: string): Promise<boolean> {
  return (await waitEmpty(dir)) && tryRmdir(dir);
}

/** A host's folder: its run cells (killed, emptied, removed), then itself. */
async function removeHostRoot(root: string, logger: Logger): Promise<void> {
  let cells: string[] = [];
  try {
    cells = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(root, e.name));
  } catch {
    return;
  }
  for (const dir of cells) {
    killCell(dir);
    if (!(await removeWhenEmpty(dir))) logger.warn('a cell of an exec run could not be removed', { dir });
  }
  if (!tryRmdir(root)) logger.warn('the cgroup folder of this host could not be removed', { dir: root });
}

/** Folders of hosts whose process is gone: what is in them is killed and they are removed (in the background). */
function removeLeftovers(parents: readonly string[], logger: Logger): Promise<void> {
  const dead: string[] = [];
  for (const parent of parents) {
    let names: string[] = [];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      const match = NAME.exec(name);
      if (match && startTimeOf(Number(match[1])) !== match[2]) dead.push(path.join(parent, name));
    }
  }
  if (dead.length === 0) return Promise.resolve();
  logger.warn('removing the exec cgroups of a host that is gone, and killing what still runs in them', { dirs: dead });
  return Promise.all(dead.map((dir) => removeHostRoot(dir, logger))).then(() => undefined);
}
