/**
 * The cgroup files both kinds of containment read and write: exec runs' cells (cgroup-containment.ts) and the
 * folders of the child processes that thread and module runs spawn (child-groups.ts). Every function here is
 * synchronous (these kernel files answer in microseconds; child-groups.ts also calls them from an 'exit' listener)
 * and answers "nothing" rather than throwing where /proc or the folder is not there.
 */
import { readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Mount points of the cgroup v2 file system and of the v1 memory hierarchy, from /proc/self/mountinfo. */
export function cgroupMounts(): { v2: string | null; memory: string | null } {
  let v2: string | null = null;
  let memory: string | null = null;
  const text = readText('/proc/self/mountinfo');
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4];
    const [fsType, , options = ''] = right.split(' ');
    if (fsType === 'cgroup2') v2 ??= mountPoint ?? null;
    else if (fsType === 'cgroup' && options.split(',').includes('memory')) memory ??= mountPoint ?? null;
  }
  return { v2, memory };
}

/** This process's cgroup paths: the v2 one (`0::/…`) and the v1 memory one, from /proc/self/cgroup. */
export function ownCgroups(): { v2: string | null; memory: string | null } {
  let v2: string | null = null;
  let memory: string | null = null;
  for (const line of readText('/proc/self/cgroup').split('\n')) {
    const [hierarchy, controllers, ...rest] = line.split(':');
    const where = rest.join(':');
    if (hierarchy === '0' && controllers === '') v2 = where;
    else if (controllers?.split(',').includes('memory')) memory = where;
  }
  return { v2, memory };
}

/**
 * Field 22 of /proc/<pid>/stat (clock ticks after boot), '' when the process is gone: with the pid, it names one
 * process for good.
 */
export function startTimeOf(pid: number): string {
  const stat = readText(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** The pids in folder `dir` itself (not its sub-folders); [] when it is gone. */
export function pidsIn(dir: string): number[] {
  return readText(path.join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);
}

/** cgroup v2's kill-all: SIGKILL to every process in `dir` and its sub-folders; false when `dir` has no cgroup.kill. */
export function killAllIn(dir: string): boolean {
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
    return true;
  } catch {
    return false;
  }
}

/** rmdir of an empty cgroup folder; true when it is gone (also when it was already). */
export function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
