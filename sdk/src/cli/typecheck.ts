/**
 * The type check `build` and `pack` run before esbuild (which strips types without checking them): `tsc --noEmit`
 * with the project's tsconfig.json, by the project's TypeScript, else the SDK's. Its errors are printed as tsc
 * prints them.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { CliError, flag, type Parsed } from './args.js';

/** `--no-typecheck`, or env JOBCENTER_TYPECHECK=0 (how `pack`, having checked, tells the build script it ran). */
export function wantsTypecheck(p: Parsed): boolean {
  return !flag(p, 'no-typecheck') && process.env.JOBCENTER_TYPECHECK !== '0';
}

interface Compiler {
  bin: string;
  version: string;
  whose: 'the project\'s' | 'the SDK\'s';
  /** Set when the SDK's TypeScript checks a project that has no @types/node of its own: the SDK's folder of them. */
  sdkTypes?: string;
}

/**
 * Runs tsc --noEmit in `dir`; a type error writes tsc's output to `err` and throws a CliError. A project without a
 * tsconfig.json has nothing to check against (plain JavaScript, say): that is said on `err`, and it goes on.
 */
export async function typecheck(dirArg: string, err: NodeJS.WritableStream): Promise<void> {
  const dir = resolve(dirArg);
  if (!existsSync(join(dir, 'tsconfig.json'))) {
    err.write(`note: not type-checked: no tsconfig.json in ${dir}\n`);
    return;
  }
  const tsc = findCompiler(dir);
  const args = [tsc.bin, '--noEmit', '-p', 'tsconfig.json'];
  if (tsc.sdkTypes) args.push('--typeRoots', `${join(dir, 'node_modules', '@types')},${tsc.sdkTypes}`);
  const { code, output } = await collect(args, dir);
  if (code === 0) return;
  err.write(output.endsWith('\n') ? output : `${output}\n`);
  throw new CliError(`type check failed (tsc --noEmit, ${tsc.whose} TypeScript ${tsc.version}): fix the errors above, or pass --no-typecheck to build without checking`);
}

function findCompiler(dir: string): Compiler {
  const fromProject = resolveFrom(join(dir, 'package.json'), 'typescript/package.json');
  if (fromProject) return compiler(fromProject, 'the project\'s');
  const sdk = import.meta.url;
  const fromSdk = resolveFrom(sdk, 'typescript/package.json');
  if (!fromSdk) {
    throw new CliError(`cannot type-check: TypeScript is neither in the project (${dir}) nor beside the SDK. Install it (npm install -D typescript @types/node) or pass --no-typecheck`);
  }
  const ownTypes = resolveFrom(join(dir, 'package.json'), '@types/node/package.json');
  const sdkTypes = ownTypes ? undefined : resolveFrom(sdk, '@types/node/package.json');
  return { ...compiler(fromSdk, 'the SDK\'s'), ...(sdkTypes ? { sdkTypes: dirname(dirname(sdkTypes)) } : {}) };
}

function compiler(pkgJson: string, whose: Compiler['whose']): Compiler {
  const { version } = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string };
  return { bin: join(dirname(pkgJson), 'bin', 'tsc'), version, whose };
}

function resolveFrom(from: string, request: string): string | null {
  try {
    return createRequire(from).resolve(request);
  } catch {
    return null;
  }
}

function collect(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', (e) => reject(new CliError(`cannot run tsc: ${e.message}`)));
    child.on('close', (code) => done({ code, output }));
  });
}
