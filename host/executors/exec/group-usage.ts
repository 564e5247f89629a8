/**
 * What an exec run's process group uses, read from /proc while it runs. Node tells nothing of a child's resource use:
 * its 'exit' carries no rusage, and libuv reaps the child before JS hears of it, which takes its /proc entry (and
 * its final counts) with it. So the group is sampled: right after spawn, then after 10, 30, 70, 150 ms and every
 * STEADY_MS from there, and whenever the executor is about to signal it (a kill or timeout).
 *
 * A sample walks the tree from the group's leader (each process's `task/<tid>/children`), keeping the processes
 * still in the leader's group, and reads each one's `stat` and `status`:
 * - CPU: the sum of user + system time of those processes plus what they reaped of their children (cutime,
 *   cstime), so a short-lived child that its parent in the group waited for is counted; the run's figure is the
 *   largest sum seen. Missed: what the group used after the last sample (at most one sampling period), processes
 *   that left the group (setsid) or were re-parented outside it, and anything below the clock tick (10 ms).
 * - Memory: the largest of the group's summed resident memory (VmRSS) at a sample and of any one process's own peak
 *   (VmHWM, which the kernel keeps between samples). Pages a process shares (libraries, copy-on-write pages of a
 *   fork) count in each process that maps them.
 * One sample of a one-process command reads three small files (~50 µs, measured); a command shorter than 10 ms
 * costs one sample.
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import type { RunUsage } from '../shared/executor.js';

/** Ticks per second of /proc's CPU times: USER_HZ, fixed at 100 by the Linux ABI (sysconf(_SC_CLK_TCK)). */
const USER_HZ = 100;
const FIRST_DELAY_MS = 10;
const STEADY_MS = 100;

interface ProcStat {
  readonly pgrp: number;
  readonly ticks: number;
  readonly threads: number;
}

export class GroupUsage {
  readonly #leader: number;
  /** The largest CPU sum seen, in ticks (-1 while no sample found the leader); the largest memory seen, in kB. */
  #ticks = -1;
  #peakKb = 0;
  #delay = FIRST_DELAY_MS;
  #timer: NodeJS.Timeout | null = null;

  /** `leader`: pid of the group's leader (spawned detached, so its pid is the group id); sampled at once. */
  constructor(leader: number) {
    this.#leader = leader;
    this.sample();
    this.#schedule();
  }

  /** Reads the group now (also before the executor signals it, while its processes still live). */
  sample(): void {
    let ticks = 0;
    let rssKb = 0;
    let peakKb = 0;
    let found = false;
    const pending = [this.#leader];
    for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
      const stat = readStat(pid);
      if (!stat || stat.pgrp !== this.#leader) continue;
      found = true;
      ticks += stat.ticks;
      const memory = readMemory(pid);
      rssKb += memory.rssKb;
      peakKb = Math.max(peakKb, memory.peakKb);
      for (const child of childrenOf(pid, stat.threads)) pending.push(child);
    }
    if (!found) return;
    this.#ticks = Math.max(this.#ticks, ticks);
    this.#peakKb = Math.max(this.#peakKb, rssKb, peakKb);
  }

  /**
   * Stops sampling; what the samples saw. CPU is unknown only when no sample could read the group (not Linux, no
   * /proc): the first sample runs before the event loop can reap the leader, so it finds at least its zombie, whose
   * counts are final. Memory is unknown when the command had already released it by then (one that ends within a
   * millisecond or so of its start).
   */
  stop(): RunUsage {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const usage: { cpuMs?: number; peakMemoryMb?: number } = {};
    if (this.#ticks >= 0) usage.cpuMs = (this.#ticks * 1000) / USER_HZ;
    if (this.#peakKb > 0) usage.peakMemoryMb = Math.round((this.#peakKb / 1024) * 1000) / 1000;
    return usage;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.sample();
      this.#delay = Math.min(this.#delay * 2, STEADY_MS);
      this.#schedule();
    }, this.#delay);
    this.#timer.unref();
  }
}

/** The text of a /proc file; null when it cannot be read (the process is gone, or another user's). */
function readProc(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    // One read holds a whole stat or status file; only a long children list needs more.
    let n = readSync(fd, BUFFER, 0, BUFFER.length, null);
    let text = BUFFER.toString('latin1', 0, n);
    while (n === BUFFER.length) {
      n = readSync(fd, BUFFER, 0, BUFFER.length, null);
      text += BUFFER.toString('latin1', 0, n);
    }
    return text;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

const BUFFER = Buffer.alloc(4096);

/** `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses, so fields are counted after the last ')'. */
function readStat(pid: number): ProcStat | null {
  const text = readProc(`/proc/${pid}/stat`);
  if (text === null) return null;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // From field 3 (state): pgrp is field 5, utime…cstime fields 14–17, num_threads field 20.
  const at = (field: number): number => Number(fields[field - 3]);
  return { pgrp: at(5), ticks: at(14) + at(15) + at(16) + at(17), threads: at(20) };
}

function readMemory(pid: number): { rssKb: number; peakKb: number } {
  const text = readProc(`/proc/${pid}/status`) ?? '';
  return { rssKb: kbOf(text, 'VmRSS:'), peakKb: kbOf(text, 'VmHWM:') };
}

/** A "Name:   1234 kB" line of /proc/<pid>/status; 0 when absent (a zombie has no memory lines). */
function kbOf(status: string, name: string): number {
  const at = status.indexOf(name);
  return at < 0 ? 0 : parseInt(status.slice(at + name.length), 10) || 0;
}

/** A child is listed under the thread that forked it: every thread's list for a multi-threaded process. */
function childrenOf(pid: number, threads: number): number[] {
  let tids: string[] = [String(pid)];
  if (threads > 1) {
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
  }
  const children: number[] = [];
  for (const tid of tids) {
    const list = readProc(`/proc/${pid}/task/${tid}/children`);
    if (list) for (const child of list.split(' ')) if (child) children.push(Number(child));
  }
  return children;
}
