#!/usr/bin/env node
/**
 * Builds every sample in samples/ (each folder with a jobcenter.json) into an uploadable bundle with the SDK's own
 * CLI, the way a job author would:
 *   jobcenter-sdk build --dir samples/<name>                 (thread, module: src/**.ts → samples/<name>/dist/src/**.js)
 *   jobcenter-sdk pack --dir samples/<name> --no-build --out dist/samples/<name>.zip
 *   samples/<name>/jobs.json  →  dist/samples/<name>.jobs.json (the jobs the host creates on first start)
 * An isolate sample is not built: pack bundles its TypeScript main with esbuild into one script itself.
 * The CLI runs in this process (sdk/dist/cli, compiled by `tsc -b` before this script in `npm run build`), which
 * saves a Node start per command. It runs on every `npm run build`, so a bundle whose inputs are older than its zip
 * is skipped. Zips are deterministic (pack sorts entries and fixes times), so an unchanged sample hashes the same
 * and the host does not see a new bundle version.
 *
 * Usage: node scripts/build-samples.mjs [--out DIR] [--force] [--only NAME]
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLES = join(ROOT, 'samples');
const SDK_CLI = join(ROOT, 'sdk', 'dist', 'cli');
const SELF = fileURLToPath(import.meta.url);
/** Outputs, not inputs, of a sample folder (dot files are skipped everywhere). */
const NOT_INPUTS = new Set(['dist', 'node_modules', 'bundles']);
/** The kinds whose TypeScript `jobcenter-sdk build` compiles before packing. */
const BUILT_KINDS = new Set(['thread', 'module']);

function parseArgs(argv) {
  const args = { out: join(ROOT, 'dist', 'samples'), force: false, only: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--force') args.force = true;
    else if (argv[i] === '--out') args.out = argv[++i];
    else if (argv[i] === '--only') args.only = argv[++i];
    else throw new Error(`unknown argument ${argv[i]} (usage: build-samples.mjs [--out DIR] [--force] [--only NAME])`);
  }
  return args;
}

/** Every regular file under dir (relative paths with '/'), skipping dot names and, at the top, `skipTop`. */
async function listFiles(dir, skipTop = new Set(), prefix = '') {
  const out = [];
  const entries = await readdir(join(dir, prefix), { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.') || (prefix === '' && skipTop.has(entry.name))) continue;
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, skipTop, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

async function mtime(path) {
  return existsSync(path) ? (await stat(path)).mtimeMs : 0;
}

/**
 * The newest input of a sample: its own files, this script, the SDK CLI that packs it, and (for a sample with a
 * package.json, whose dependencies npm installs) the root package-lock.json.
 */
async function newestInput(sample) {
  const paths = (await listFiles(sample.dir, NOT_INPUTS)).map((rel) => join(sample.dir, rel));
  paths.push(SELF, ...['index.js', 'build.js', 'pack.js', 'deps.js', 'zip.js', 'isolate-local.js'].map((f) => join(SDK_CLI, f)));
  if (existsSync(join(sample.dir, 'package.json'))) paths.push(join(ROOT, 'package-lock.json'));
  let newest = 0;
  for (const path of paths) newest = Math.max(newest, await mtime(path));
  return newest;
}

async function isUpToDate(sample, outZip, outJobs) {
  if (!existsSync(outZip)) return false;
  if (existsSync(join(sample.dir, 'jobs.json')) && !existsSync(outJobs)) return false;
  if (sample.manifest.main && !existsSync(join(sample.dir, sample.manifest.main))) return false;
  return (await mtime(outZip)) >= (await newestInput(sample));
}

/** A writable that keeps what the CLI prints, so that each bundle gets one line of our own. */
function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

/** `jobcenter-sdk <argv>` in this process; a non-zero exit throws with what the CLI printed. */
async function sdk(cli, argv, label) {
  const out = collector();
  const err = collector();
  const code = await cli.main(argv, out.stream, err.stream);
  if (code !== 0) throw new Error(`${label}: jobcenter-sdk ${argv[0]} failed (exit ${code})\n${err.text()}${out.text()}`);
  return out.text();
}

async function copyJobs(sample, outJobs) {
  const source = join(sample.dir, 'jobs.json');
  if (!existsSync(source)) return 0;
  const jobs = JSON.parse(await readFile(source, 'utf8'));
  if (!Array.isArray(jobs)) throw new Error(`${relative(ROOT, source)} must hold a JSON array of job definitions`);
  await copyFile(source, outJobs);
  return jobs.length;
}

async function readSample(name) {
  const dir = join(SAMPLES, name);
  const manifestPath = join(dir, 'jobcenter.json');
  if (!existsSync(manifestPath)) return null;
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  if (typeof manifest.name !== 'string' || typeof manifest.kind !== 'string') {
    throw new Error(`${relative(ROOT, manifestPath)} needs "name" and "kind"`);
  }
  return { name, dir, manifest };
}

async function buildSample(sample, args, loadCli) {
  const outZip = join(args.out, `${sample.name}.zip`);
  const outJobs = join(args.out, `${sample.name}.jobs.json`);
  const shown = relative(ROOT, outZip).split(sep).join('/') || outZip;
  if (!args.force && (await isUpToDate(sample, outZip, outJobs))) {
    console.log(`samples: ${sample.name} up to date (${shown})`);
    return;
  }
  const cli = await loadCli();
  const label = `samples/${sample.name}`;
  const built = BUILT_KINDS.has(sample.manifest.kind) && existsSync(join(sample.dir, 'src'));
  if (built) await sdk(cli, ['build', '--dir', sample.dir], label);
  // build type-checked the sample already; pack checks the ones it did not build (isolate).
  const packed = await sdk(cli, ['pack', '--dir', sample.dir, '--no-build', ...(built ? ['--no-typecheck'] : []), '--out', outZip], label);
  const files = /(\d+) files?, (\d+) bytes/.exec(packed);
  const jobs = await copyJobs(sample, outJobs);
  const size = files ? `${files[1]} files, ${files[2]} bytes` : `${(await stat(outZip)).size} bytes`;
  console.log(`samples: ${sample.name} → ${shown} (${sample.manifest.kind}, ${size}, ${jobs} jobs)`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  args.out = resolve(args.out);
  // esbuild names the source in an isolate script's comments relative to the working directory: fix it.
  process.chdir(ROOT);
  await mkdir(args.out, { recursive: true });
  let cli = null;
  const loadCli = async () => {
    if (!existsSync(join(SDK_CLI, 'index.js'))) throw new Error(`the SDK CLI is not compiled (${relative(ROOT, SDK_CLI)}/index.js): run tsc -b first`);
    return (cli ??= await import(pathToFileURL(join(SDK_CLI, 'index.js')).href));
  };
  const names = (await readdir(SAMPLES, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const name of names) {
    if (args.only && name !== args.only) continue;
    const sample = await readSample(name);
    if (sample) await buildSample(sample, args, loadCli);
  }
}

main().catch((err) => {
  console.error(`build-samples: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
