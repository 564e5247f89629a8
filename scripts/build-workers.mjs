#!/usr/bin/env node
/**
 * Bundles each worker thread's entry (the thread pool's, the module contexts' and the introspection worker's) from
 * dist into ONE file next to it, `<name>.bundle.js`, which executors/shared/worker-file.ts starts instead of
 * `<name>.js`. Every worker is a fresh isolate that loads its own copy of its modules, and each ES module file it
 * loads costs it resident memory beyond the module's code (measured on Node 20: the thread worker's 17 files took
 * 9.2 MB per worker, the same code as one file 7.7 MB; docs/benchmarks.md, "A worker's modules in one file").
 * Behaviour is the same: the same compiled code, and Node's built-ins stay imports.
 *
 * Each bundle gets `<name>.bundle.json`, the files it was made from: a worker file older than any of them is stale
 * (a `tsc -b` without this script) and worker-file.ts starts the unbundled entry instead.
 *
 * Runs after `tsc -b` in `npm run build` (esbuild is the SDK's dependency); ~10 ms a bundle.
 * Usage: node scripts/build-workers.mjs
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist', 'host', 'executors');
/** The worker entries, as startWorkerFile names them (relative to dist/host/executors). */
const ENTRIES = ['thread/thread-worker', 'module/module-worker', 'introspect/introspect-worker'];

const esbuild = createRequire(join(ROOT, 'sdk', 'package.json'))('esbuild');

for (const entry of ENTRIES) {
  const input = join(DIST, `${entry}.js`);
  const outfile = join(DIST, `${entry}.bundle.js`);
  const result = await esbuild.build({
    entryPoints: [input],
    outfile,
    // The metafile names inputs relative to this folder (the root, wherever the script is run from).
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // tsc's maps are read in, so a stack through the bundle still names host/…ts where maps are on.
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const text = await readFile(outfile, 'utf8');
  // Bundled code must not depend on where its file is: import.meta.url would now name the bundle, and a CommonJS
  // require inlined into an ES module throws at run time ("Dynamic require … is not supported").
  for (const trap of ['import.meta', '__require(']) {
    if (text.includes(trap)) throw new Error(`build-workers: ${entry}'s bundle uses ${trap}; keep that module out of the worker or make it location-free`);
  }
  const inputs = Object.keys(result.metafile.inputs).map((file) => relative(dirname(outfile), join(ROOT, file)));
  await writeFile(join(DIST, `${entry}.bundle.json`), `${JSON.stringify({ inputs }, null, 1)}\n`);
  process.stdout.write(`build-workers: ${relative(ROOT, outfile)} (${inputs.length} files, ${Math.round(text.length / 1024)} KB)\n`);
}
