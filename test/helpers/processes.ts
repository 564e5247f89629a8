/** Whether processes a test started are still there. */
import { readFileSync } from 'node:fs';

/** Whether `pid` runs code: a zombie still answers kill(0) until something reaps it, and runs none. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    // Gone between the two looks.
    return false;
  }
}
