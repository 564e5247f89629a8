/**
 * `jobcenter-sdk pack`: builds the bundle zip of a project, checked the way the host checks it.
 */
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { CliError, flag, parse, str, type Options } from './args.js';
import { productionDependencies, SDK_PACKAGE } from './deps.js';
import { bundleIsolate } from './isolate-local.js';
import { defaultZipPath, readProject, type Project } from './project.js';
import { typecheck, wantsTypecheck } from './typecheck.js';
import { filesUnder, writeZip, type Entry } from './zip.js';

export const PACK_HELP = `Usage: jobcenter-sdk pack [--dir D] [--out F] [--no-build] [--no-typecheck]

Builds the bundle zip of the project in D (default: .) into F (default: D/bundles/<name>-<version>.zip) and
prints its path, size and sha256. jobcenter.json must hold name, version and kind (and main, except for exec).
A thread, module or isolate project is type-checked first, as \`build\` does it (tsc --noEmit; tsc's errors stop
the pack), unless --no-typecheck.

  thread, module  runs the project's "build" script (unless --no-build), checks that main exists, and zips
                  jobcenter.json, a package.json (name, version, type, dependencies), main's top folder
                  (e.g. dist/, without test folders), config/, the production dependencies from node_modules/
                  and the SDK's runtime (node_modules/@jobcenter/sdk/dist, without its CLI, and
                  node_modules/@jobcenter/config, the config loader it uses)
  isolate         bundles main (e.g. src/index.ts) with esbuild into ONE CommonJS file, index.js, and zips it with
                  jobcenter.json (main: "index.js") and config/
  exec            zips the project's files except node_modules/, src/, test/, bundles/, package-lock.json
                  and dot files
File modes are kept (an executable run.sh stays executable); the zip's bytes depend only on its content.`;

const OPTIONS: Options = { dir: { type: 'string' }, out: { type: 'string' }, 'no-build': { type: 'boolean' }, 'no-typecheck': { type: 'boolean' } };
const ISOLATE_MAIN = 'index.js';

export async function packCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const p = parse('pack', argv, OPTIONS);
  if (p.values.help) return void out.write(`${PACK_HELP}\n`), 0;
  const project = await readProject(str(p, 'dir'));
  if (project.manifest.kind !== 'exec' && wantsTypecheck(p)) await typecheck(project.dir, err);
  const zipPath = resolve(str(p, 'out') ?? defaultZipPath(project));
  const entries = await entriesOf(project, { build: !flag(p, 'no-build'), zipPath });
  const info = await writeZip(entries, zipPath);
  const shown = relative(process.cwd(), info.path) || info.path;
  out.write(`packed ${project.manifest.name} ${project.manifest.version} (${project.manifest.kind}): ${shown}\n`);
  out.write(`  ${info.entries.length} files, ${info.size} bytes\n  sha256 ${info.sha256}\n`);
  return 0;
}

async function entriesOf(project: Project, opts: { build: boolean; zipPath: string }): Promise<Entry[]> {
  switch (project.manifest.kind) {
    case 'thread':
    case 'module':
      return codeEntries(project, opts.build);
    case 'isolate':
      return isolateEntries(project);
    case 'exec':
      return execEntries(project, opts.zipPath);
  }
}

async function codeEntries(project: Project, build: boolean): Promise<Entry[]> {
  if (build && project.pkg?.scripts?.build) await runBuildScript(project.dir);
  const main = project.manifest.main!;
  if (!existsSync(join(project.dir, main))) {
    throw new CliError(`main "${main}" does not exist in ${project.dir}${project.pkg?.scripts?.build ? ' after the build' : ' (no "build" script in package.json to make it)'}`);
  }
  const top = main.split('/')[0];
  const entries: Entry[] = [manifestEntry(project), packageJsonEntry(project)];
  if (top === main) entries.push({ name: main, path: join(project.dir, main) });
  else entries.push(...(await filesUnder(join(project.dir, top), top, (rel, isDir) => isTestPath(rel, isDir))));
  entries.push(...(await configEntries(project)));
  for (const dep of await productionDependencies(project.dir, project.pkg)) {
    entries.push(...(await filesUnder(dep.source, dep.target, (rel, isDir) => isDir && rel === 'node_modules')));
  }
  entries.push(...(await sdkRuntimeEntries(project.dir)));
  return dedupe(entries);
}

/**
 * Job code imports `defineJob` / `defineModule` from the SDK at run time, so a bundle carries the SDK's runtime:
 * its compiled library without the CLI (which needs esbuild) and without declarations, and the one runtime
 * dependency of that library, @jobcenter/config (loadConfig). Found wherever the project installed the SDK (a
 * dependency or a devDependency).
 */
async function sdkRuntimeEntries(dir: string): Promise<Entry[]> {
  const installed = join(dir, 'node_modules', ...SDK_PACKAGE.split('/'));
  if (!existsSync(join(installed, 'dist', 'index.js'))) return [];
  const source = realpathSync(installed);
  const config = dirname(createRequire(join(source, 'package.json')).resolve(`${SDK_CONFIG_PACKAGE}/package.json`));
  return [...(await runtimeEntries(source, SDK_PACKAGE, (rel) => rel === 'cli')), ...(await runtimeEntries(realpathSync(config), SDK_CONFIG_PACKAGE, () => false))];
}

const SDK_CONFIG_PACKAGE = '@jobcenter/config';

/** A package's compiled dist/ (no declarations, no source maps, no folder `skip` names) and a package.json for it. */
async function runtimeEntries(source: string, name: string, skip: (rel: string) => boolean): Promise<Entry[]> {
  const target = `node_modules/${name}`;
  const own = JSON.parse(await readFile(join(source, 'package.json'), 'utf8')) as Record<string, unknown>;
  const pkg = { name: own.name, version: own.version, type: own.type, main: own.main, exports: { '.': './dist/index.js' } };
  const files = await filesUnder(join(source, 'dist'), `${target}/dist`, (rel, isDir) => (isDir ? skip(rel) : /\.(d\.ts|map|tsbuildinfo)$/.test(rel)));
  return [{ name: `${target}/package.json`, data: Buffer.from(`${JSON.stringify(pkg, null, 2)}\n`) }, ...files];
}

async function isolateEntries(project: Project): Promise<Entry[]> {
  const main = join(project.dir, project.manifest.main!);
  if (!existsSync(main)) throw new CliError(`main "${project.manifest.main}" does not exist in ${project.dir}`);
  const script = await bundleIsolate(main);
  const manifest = { ...project.manifest, main: ISOLATE_MAIN };
  return [
    { name: 'jobcenter.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) },
    { name: ISOLATE_MAIN, data: Buffer.from(script) },
    ...(await configEntries(project)),
  ];
}

async function execEntries(project: Project, zipPath: string): Promise<Entry[]> {
  const main = project.manifest.main;
  if (main !== undefined && !existsSync(join(project.dir, main))) throw new CliError(`main "${main}" does not exist in ${project.dir}`);
  const skipTop = new Set(['node_modules', 'src', 'test', 'bundles']);
  return filesUnder(project.dir, '', (rel, isDir) => {
    const name = rel.split('/').at(-1)!;
    return name.startsWith('.') || (isDir && skipTop.has(rel)) || rel === 'package-lock.json' || join(project.dir, rel) === zipPath;
  });
}

function manifestEntry(project: Project): Entry {
  return { name: 'jobcenter.json', path: join(project.dir, 'jobcenter.json') };
}

/** Only what the host needs to load the code: an ESM main needs "type": "module" beside it. */
function packageJsonEntry(project: Project): Entry {
  const pkg = project.pkg ?? {};
  const shown = { name: pkg.name ?? project.manifest.name, version: pkg.version ?? project.manifest.version, type: pkg.type ?? 'module', dependencies: pkg.dependencies ?? {} };
  return { name: 'package.json', data: Buffer.from(`${JSON.stringify(shown, null, 2)}\n`) };
}

async function configEntries(project: Project): Promise<Entry[]> {
  const dir = join(project.dir, 'config');
  return existsSync(dir) ? filesUnder(dir, 'config', (rel) => rel.split('/').at(-1)!.startsWith('.')) : [];
}

/** Compiled tests do not belong in a bundle. */
function isTestPath(rel: string, isDir: boolean): boolean {
  const name = rel.split('/').at(-1)!;
  return isDir ? name === 'test' || name === '__tests__' : /\.test\.[cm]?js(\.map)?$/.test(name);
}

function dedupe(entries: Entry[]): Entry[] {
  const seen = new Map<string, Entry>();
  for (const e of entries) if (!seen.has(e.name)) seen.set(e.name, e);
  return [...seen.values()];
}

/**
 * `npm run build` in the project, its output passed through; a failing build is a CliError. The project was
 * type-checked before (or is not to be): env JOBCENTER_TYPECHECK=0 keeps `jobcenter-sdk build` from checking again.
 */
export function runBuildScript(dir: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...process.env, JOBCENTER_TYPECHECK: '0' };
    const child = spawn('npm', ['run', 'build', '--silent'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) => reject(new CliError(`cannot run npm run build: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new CliError(`npm run build failed in ${dir} (exit ${code})`))));
  });
}
