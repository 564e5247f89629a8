/**
 * Where the child processes of thread and module workers are kept together: a cgroup v2 folder per worker and, inside
 * it, one per run (`<cgroup2 mount>/jobcenter-workers/<pid>-<start time>/w<threadId>/<runId>`). A process put in a
 * cgroup stays there with every descendant, setsid ones too, and `cgroup.kill` ends them all at once. The worker
 * makes the folders of its runs and kills a run's at its end (exec/worker-children.ts); the host kills a worker's folder once
 * that worker has exited, and at start the folders of host processes that are gone (a host killed with SIGKILL).
 *
 * Only `<pid>-<start time>` ties a folder to a process, so hosts embedded in one process share a folder; each kills
 * only its own workers' folders (thread ids are unique in a process). Where no writable cgroup v2 with cgroup.kill
 * is found (another OS, no root, kernel < 5.14), every function here does nothing and says so by returning null.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { cgroupMounts, killAllIn, startTimeOf } from './cgroups.js';

const FOLDER = 'jobcenter-workers';
/** Taken at load: in a worker, the global is replaced by the run-tracking one (executors/shared/run-leftovers.ts). */
const later = setTimeout;

/** `<pid>-<start time in clock ticks>`: a pid alone may be reused by another process after a host died. */
function processTag(pid: number): string | null {
  const startTime = startTimeOf(pid);
  return startTime ? `${pid}-${startTime}` : null;
}

/** This process's folder, made when missing; null when cgroups cannot contain children here. */
export function processGroupRoot(): string | null {
  if (process.platform !== 'linux') return null;
  const mount = cgroupMounts().v2;
  const tag = processTag(process.pid);
  if (!mount || !tag) return null;
  const root = path.join(mount, FOLDER, tag);
  try {
    mkdirSync(root, { recursive: true });
  } catch {
    return null;
  }
  // cgroup.kill (Linux 5.14) is what makes the folder worth having; the root of the hierarchy has none, a child has.
  return existsSync(path.join(root, 'cgroup.kill')) ? root : null;
}

/** The folder of worker `threadId` (not made). */
export function workerGroup(root: string, threadId: number): string {
  return path.join(root, `w${threadId}`);
}

/** Makes folder `dir` (and its parents); false when it cannot. */
export function makeGroup(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGKILL to every process in `dir` and its sub-folders (synchronous: it also serves from an 'exit' listener),
 * then removes the folders once they are empty, retrying for a short while; false when `dir` does not exist.
 */
export function killGroup(dir: string): boolean {
  if (!killAllIn(dir)) return false;
  removeGroup(dir, 20);
  return true;
}

/** rmdir of `dir` and its sub-folders, deepest first; a folder with processes still exiting is tried again later. */
export function removeGroup(dir: string, tries = 1): void {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) removeGroup(path.join(dir, entry.name), 1);
    }
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY' && tries > 1) later(() => removeGroup(dir, tries - 1), 10).unref();
  }
}

/**
 * Once `worker` has exited, kills whatever its children left in its folder (its direct children already got SIGKILL
 * from their pdeathsig, their descendants did not). Host side; the thread id is taken now (it reads -1 after exit).
 */
export function killGroupsOnExit(worker: Worker): void {
  const threadId = worker.threadId;
  worker.once('exit', () => {
    const root = processGroupRoot();
    if (root) killGroup(workerGroup(root, threadId));
  });
}

/**
 * Kills what hosts that are gone left in their folders (a host killed with SIGKILL could not). Returns how many
 * such folders were found, or null when this machine has no usable cgroup v2.
 */
export function killOrphanedGroups(): number | null {
  const own = processGroupRoot();
  if (!own) return null;
  const base = path.dirname(own);
  let found = 0;
  for (const tag of readdirSync(base)) {
    const pid = Number(tag.split('-')[0]);
    if (tag === path.basename(own) || !Number.isInteger(pid) || processTag(pid) === tag) continue;
    found++;
    killGroup(path.join(base, tag));
  }
  return found;
}
