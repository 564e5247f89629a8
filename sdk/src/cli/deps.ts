/**
 * The production dependencies of a project, as folders to copy into a bundle's node_modules/: `dependencies` and
 * `optionalDependencies` of package.json, resolved the way Node resolves them (nearest node_modules upward, past
 * the project folder, so packages that npm workspaces hoisted to the repository root are found), recursively.
 * A file: dependency (a symlink) is copied from its target.
 */
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { CliError } from './args.js';
import type { PackageJson } from './project.js';

/** Packed apart (see pack.ts sdkRuntimeEntries): only its runtime, not its CLI and the CLI's dependencies. */
export const SDK_PACKAGE = '@jobcenter/sdk';

export interface DependencyFolder {
  /** Where the package's files are (the symlink's target for file: dependencies). */
  readonly source: string;
  /** Its path in the bundle, e.g. `node_modules/lodash` or `node_modules/a/node_modules/b`. */
  readonly target: string;
}

/** Every production dependency folder of the project in `dir`; a missing one is a CliError (run npm install). */
export async function productionDependencies(dir: string, pkg: PackageJson | null): Promise<DependencyFolder[]> {
  const found = new Map<string, DependencyFolder>();
  const targets = new Map<string, string>();
  const queue: { location: string; pkg: PackageJson; from: string }[] = [{ location: dir, pkg: pkg ?? {}, from: 'package.json' }];
  while (queue.length > 0) {
    const { location, pkg: current, from } = queue.shift()!;
    const optional = new Set(Object.keys(current.optionalDependencies ?? {}));
    for (const name of [...Object.keys(current.dependencies ?? {}), ...optional]) {
      if (name === SDK_PACKAGE) continue;
      const at = resolvePackage(location, name);
      if (at === null) {
        if (optional.has(name)) continue;
        throw new CliError(`dependency "${name}" (of ${from}) is not installed under ${join(dir, 'node_modules')} or a node_modules folder above it: run npm install`);
      }
      if (found.has(at)) continue;
      const target = bundlePath(dir, at);
      const taken = targets.get(target);
      if (taken !== undefined) {
        // Two installed copies would land on one path (a project-level version shadowing a hoisted one).
        throw new CliError(`dependencies ${taken} and ${at} would both be packed as ${target}: install the project outside its workspace so that npm nests one of them`);
      }
      targets.set(target, at);
      found.set(at, { source: realpathSync(at), target });
      const depPkg = JSON.parse(await readFile(join(at, 'package.json'), 'utf8')) as PackageJson;
      queue.push({ location: at, pkg: depPkg, from: `${name}` });
    }
  }
  return [...found.values()].sort((a, b) => a.target.localeCompare(b.target));
}

/** Node's lookup: `<location>/node_modules/<name>`, then each parent's (not `node_modules/node_modules`), up to `/`. */
function resolvePackage(location: string, name: string): string | null {
  for (let at = location; ; at = dirname(at)) {
    if (basename(at) !== 'node_modules') {
      const candidate = join(at, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
    }
    if (dirname(at) === at) return null;
  }
}

/**
 * Where a package found at `at` goes in the bundle: its path below the node_modules folder of the nearest folder
 * that holds it and is the project or above it. A package hoisted to the repository root
 * (`<root>/node_modules/a/node_modules/b`) lands in the bundle's own `node_modules/a/node_modules/b`, where Node
 * finds it from the bundle's code as it found it from the project.
 */
function bundlePath(dir: string, at: string): string {
  for (let base = dir; ; base = dirname(base)) {
    const rel = relative(base, at);
    if (rel.split(sep)[0] === 'node_modules') return rel.split(sep).join('/');
    if (dirname(base) === base) throw new CliError(`cannot place ${at} in the bundle of ${dir}`);
  }
}
