/**
 * Runs the real `jobcenter-sdk` CLI (node sdk/bin/jobcenter-sdk.js) and npm as child processes, with bounded time.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import unzipper from 'unzipper';

/** The repository root, both from test/sdk (tsx) and from dist/test/sdk (compiled). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'sdk', 'bin', 'jobcenter-sdk.js'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root above the test file');
    dir = parent;
  }
  return dir;
}

export const ROOT = repoRoot();
export const SDK_DIR = join(ROOT, 'sdk');
const BIN = join(SDK_DIR, 'bin', 'jobcenter-sdk.js');

export interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns a command and collects its output; kills it (and fails) after `timeoutMs`. */
export function exec(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Done> {
  return new Promise((resolve, reject) => {
    // Without NODE_TEST_CONTEXT, a `node --test` inside reports in its usual text form, not to this runner.
    const { NODE_TEST_CONTEXT: _inner, ...env } = opts.env ?? process.env;
    const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} took longer than ${opts.timeoutMs ?? 30_000} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `jobcenter-sdk <args>` in `cwd`, with `env` added to the test's environment. */
export function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Done> {
  // build and pack run tsc: slow on a busy machine.
  return exec(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, timeoutMs: 90_000 });
}

/** npm without registry traffic: --offline makes any download an error instead of a silent fetch. */
export function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Done> {
  return exec('npm', [...args, '--offline', '--no-audit', '--no-fund'], { cwd, env: { ...process.env, ...env }, timeoutMs: 60_000 });
}

/** Name → Unix mode of every entry of a zip. */
export async function zipModes(path: string): Promise<Map<string, number>> {
  const directory = await unzipper.Open.file(path);
  return new Map(directory.files.map((f) => [f.path, (f.externalFileAttributes >>> 16) & 0o7777]));
}

export async function zipText(path: string, name: string): Promise<string> {
  const directory = await unzipper.Open.file(path);
  const file = directory.files.find((f) => f.path === name);
  if (!file) throw new Error(`${name} is not in ${path}`);
  return (await file.buffer()).toString('utf8');
}
