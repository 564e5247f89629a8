/**
 * `jobcenter-sdk build`: type-checks a project (typecheck.ts: esbuild does not) and compiles its TypeScript with
 * esbuild, file by file, keeping the folder layout: `src/x.ts` → `dist/src/x.js`, `test/x.test.ts` → `dist/test/x.test.js`.
 * The same layout `tsc` gives with `rootDir: "."`, so a project can switch to `tsc` without moving anything.
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { CliError, parse, str, type Options } from './args.js';
import { typecheck, wantsTypecheck } from './typecheck.js';

export const BUILD_HELP = `Usage: jobcenter-sdk build [--dir D] [--out DIR] [--no-typecheck]

Type-checks the project in D (default: .) with \`tsc --noEmit\` and its tsconfig.json, by the project's
TypeScript (else the SDK's), and stops with tsc's errors (exit 1) when there are any; --no-typecheck (or env
JOBCENTER_TYPECHECK=0) skips that, and a project without tsconfig.json is not checked. Then compiles src/**/*.ts and test/**/*.ts to DIR (default: dist/), keeping
the layout (src/index.ts -> dist/src/index.js) as ES modules for Node 20 (ES2022), with inline source maps (a
stack names src/index.ts under node --enable-source-maps, jobcenter-sdk run, and on the host). DIR is emptied
first.`;

const OPTIONS: Options = { dir: { type: 'string' }, out: { type: 'string' }, 'no-typecheck': { type: 'boolean' } };
const SOURCE = /\.(m|c)?ts$/;

export async function buildCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const p = parse('build', argv, OPTIONS);
  if (p.values.help) return help(out);
  const dir = str(p, 'dir') ?? '.';
  if (wantsTypecheck(p)) await typecheck(dir, err);
  const files = await compileProject(dir, str(p, 'out') ?? join(dir, 'dist'));
  out.write(`built ${files} file(s) into ${relative(process.cwd(), str(p, 'out') ?? join(dir, 'dist')) || '.'}\n`);
  return 0;
}

/** Compiles every TypeScript file under `<dir>/src` and `<dir>/test` into `outDir`; returns how many. */
export async function compileProject(dir: string, outDir: string): Promise<number> {
  const entryPoints: string[] = [];
  for (const top of ['src', 'test']) {
    if (existsSync(join(dir, top))) entryPoints.push(...(await sources(join(dir, top))));
  }
  if (entryPoints.length === 0) throw new CliError(`nothing to build: no .ts files under ${join(dir, 'src')} or ${join(dir, 'test')}`);
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    entryPoints,
    outdir: outDir,
    outbase: dir,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    sourcemap: 'inline',
    logLevel: 'silent',
  }).catch((err: Error) => {
    throw new CliError(`build failed:\n${err.message}`);
  });
  if (result.errors.length > 0) throw new CliError(`build failed: ${result.errors.map((e) => e.text).join('; ')}`);
  return entryPoints.length;
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath, entry.name);
    if (entry.isFile() && SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out.sort();
}

function help(out: NodeJS.WritableStream): number {
  out.write(`${BUILD_HELP}\n`);
  return 0;
}
