/**
 * Where spawn() would find a command, looked up before a wrapper (a cgroup shell, setpriv, unshare) is put in front
 * of it: the wrapper would otherwise turn "not found" into its own exit status instead of the error Node gives.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/**
 * A command with a slash from `cwd`, else the first match on `searchPath`: `{ file }` for an executable file,
 * `{ denied }` for the first file found that may not be executed, null when there is none.
 */
export function lookUpCommand(command: string, cwd: string, searchPath: string): { file: string } | { denied: string } | null {
  const candidates = command.includes('/') ? [path.resolve(cwd, command)] : searchPath.split(':').map((dir) => path.resolve(cwd, dir || '.', command));
  let denied: string | null = null;
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(file, constants.X_OK);
      return { file };
    } catch {
      denied ??= file;
    }
  }
  return denied ? { denied } : null;
}

/** Whether `file` is there and may be executed. */
export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
