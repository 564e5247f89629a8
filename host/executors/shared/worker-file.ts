import { existsSync, readFileSync, statSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker from a file next to `base`:
 * - built, `<name>.bundle.js`: the entry and its modules in one file (scripts/build-workers.mjs), which saves a
 *   worker 1–1.5 MB of resident memory; used while it is newer than every file it was made from;
 * - compiled, `<name>.js` (a `tsc -b` without the bundling step, or a stale bundle);
 * - from source (tests under tsx), `<name>.ts` through a small eval'd bootstrap, because tsx on Node 20 registers its
 *   hooks on the main thread only.
 */
export function startWorkerFile(base: string, name: string, options: WorkerOptions): Worker {
  const bundle = freshBundle(base, name);
  if (bundle) return new Worker(bundle, options);
  const compiled = new URL(`./${name}.js`, base);
  if (existsSync(compiled)) return new Worker(compiled, options);
  const source = new URL(`./${name}.ts`, base).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** By worker file: its bundle, or null (none, or older than a file it was made from). Looked at once per process. */
const bundles = new Map<string, URL | null>();

export function freshBundle(base: string, name: string): URL | null {
  const bundle = new URL(`./${name}.bundle.js`, base);
  let fresh = bundles.get(bundle.href);
  if (fresh !== undefined) return fresh;
  fresh = null;
  try {
    const { inputs } = JSON.parse(readFileSync(new URL(`./${name}.bundle.json`, base), 'utf8')) as { inputs: string[] };
    const builtAt = statSync(bundle).mtimeMs;
    if (inputs.every((input) => statSync(new URL(input, bundle)).mtimeMs <= builtAt)) fresh = bundle;
  } catch {
    // No bundle (from source, or built without the bundling step), or an input that is gone: the compiled entry.
  }
  bundles.set(bundle.href, fresh);
  return fresh;
}
