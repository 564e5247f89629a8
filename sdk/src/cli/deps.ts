/**
 * The production dependencies of a project, as folders to copy into a bundle's node_modules/: `dependencies` and
 * `optionalDependencies` of package.json, resolved the way Node resolves them (nearest node_modules upward, not
 * above the project), recursively. A file: dependency (a symlink) is copied from its target.
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
  const queue: { location: string; pkg: PackageJson; from: string }[] = [{ location: dir, pkg: pkg ?? {}, from: 'package.json' }];
  while (queue.length > 0) {
    const { location, pkg: current, from } = queue.shift()!;
    const optional = new Set(Object.keys(current.optionalDependencies ?? {}));
    for (const name of [...Object.keys(current.dependencies ?? {}), ...optional]) {
      if (name === SDK_PACKAGE) continue;
      const at = resolvePackage(dir, location, name);
      if (at === null) {
        if (optional.has(name)) continue;
        throw new CliError(`dependency "${name}" (of ${from}) is not installed under ${join(dir, 'node_modules')}: run npm install`);
      }
      if (found.has(at)) continue;
      found.set(at, { source: realpathSync(at), target: relative(dir, at).split(sep).join('/') });
      const depPkg = JSON.parse(await readFile(join(at, 'package.json'), 'utf8')) as PackageJson;
      queue.push({ location: at, pkg: depPkg, from: `${name}` });
    }
  }
  return [...found.values()].sort((a, b) => a.target.localeCompare(b.target));
}

/** Node's lookup: `<location>/node_modules/<name>`, then each parent's, stopping at the project folder. */
function resolvePackage(root: string, location: string, name: string): string | null {
  let at = location;
  for (;;) {
    const candidate = join(at, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (at === root || !at.startsWith(root)) return null;
    at = dirname(at);
    // Skip the node_modules folders and scope folders between a package and the package that holds it.
    while (at !== root && (basename(at) === 'node_modules' || basename(at).startsWith('@'))) at = dirname(at);
  }
}
