/**
 * Secrets read from the environment must not stay readable there. Deleting a variable from process.env unsets it for
 * this process's later reads, but /proc/<pid>/environ shows the environment block the process was started with, and
 * job code running as the host's user (thread, module and exec jobs; docs/isolation.md, "Trust") reads it there
 * (reference: containment-notes §4). So the value's bytes are overwritten in that block, through /proc/self/mem.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';

/** Variables that hold a secret the host needs only once, at start. */
export const SECRET_VARIABLES: readonly string[] = ['JOBCENTER_ADMIN_PASSWORD'];

/**
 * Removes the variables from process.env and zeroes their values in the process's own environment block. Returns
 * what could not be done (empty on success); the caller decides how loudly to say it. Linux only: elsewhere, and
 * where /proc/self/mem cannot be written, the values stay in the block and the returned list says why.
 */
export function clearFromEnvironment(names: readonly string[] = SECRET_VARIABLES, env: NodeJS.ProcessEnv = process.env): string[] {
  const present = names.filter((name) => env[name] !== undefined);
  for (const name of present) delete env[name];
  if (present.length === 0) return [];
  try {
    zeroInEnvironBlock(present);
    return [];
  } catch (err) {
    return [`${present.join(', ')} stays readable in /proc/${process.pid}/environ: ${(err as Error).message}`];
  }
}

function zeroInEnvironBlock(names: readonly string[]): void {
  const [start, end] = environBlock();
  const fd = openSync('/proc/self/mem', 'r+');
  try {
    const block = Buffer.alloc(end - start);
    readSync(fd, block, 0, block.length, start);
    const prefixes = names.map((name) => Buffer.from(`${name}=`));
    for (let at = 0; at < block.length; ) {
      const nul = block.indexOf(0, at);
      const stop = nul === -1 ? block.length : nul;
      const entry = block.subarray(at, stop);
      const prefix = prefixes.find((p) => entry.length >= p.length && entry.subarray(0, p.length).equals(p));
      if (prefix && entry.length > prefix.length) {
        const length = entry.length - prefix.length;
        if (writeSync(fd, Buffer.alloc(length), 0, length, start + at + prefix.length) !== length) throw new Error('short write to /proc/self/mem');
      }
      at = stop + 1;
    }
  } finally {
    closeSync(fd);
  }
}

/** env_start and env_end, fields 50 and 51 of /proc/self/stat (proc(5)); the command name, field 2, may hold spaces. */
function environBlock(): [number, number] {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
  // fields[0] is field 3.
  const start = Number(fields[50 - 3]);
  const end = Number(fields[51 - 3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) throw new Error('/proc/self/stat has no environment block');
  return [start, end];
}
