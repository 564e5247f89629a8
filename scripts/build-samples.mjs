#!/usr/bin/env node
/**
 * Builds every sample in samples/ (each folder with a jobcenter.json) into an uploadable bundle:
 *   samples/<name>/src/**.ts  →  samples/<name>/dist/**.js   (ts.transpileModule: ESNext modules, ES2022)
 *   bundle zip                →  dist/samples/<name>.zip      (jobcenter.json, dist/, config/, scripts, node_modules;
 *                                                              not src/, jobs.json, tsconfig.json or dot files)
 *   samples/<name>/jobs.json  →  dist/samples/<name>.jobs.json (the jobs the host creates on first start)
 * It runs on every `npm run build`, so a bundle whose inputs are older than its zip is skipped, and TypeScript is
 * only loaded when something must be compiled. Zips are deterministic (sorted entries, fixed times), so an
 * unchanged sample hashes the same and the host does not see a new bundle version.
 *
 * Usage: node scripts/build-samples.mjs [--out DIR] [--force] [--only NAME]
 */
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLES = join(ROOT, 'samples');
const SELF = fileURLToPath(import.meta.url);
/** Not part of a bundle: sources, the host's job list, editor/compiler files. Dot files are skipped everywhere. */
const EXCLUDED_TOP = new Set(['src', 'jobs.json', 'tsconfig.json', 'package.json']);
/** DOS time starts in 1980; any fixed time makes the zip bytes depend only on the content. */
const FIXED_MTIME = new Date(2020, 0, 1);

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

async function newestMtime(dir, files) {
  let newest = (await stat(SELF)).mtimeMs;
  for (const file of files) newest = Math.max(newest, (await stat(join(dir, file))).mtimeMs);
  return newest;
}

async function isUpToDate(sample, outZip, outJobs) {
  if (!existsSync(outZip)) return false;
  if (existsSync(join(sample.dir, 'jobs.json')) && !existsSync(outJobs)) return false;
  if (sample.manifest.main && !existsSync(join(sample.dir, sample.manifest.main))) return false;
  const inputs = await listFiles(sample.dir, new Set(['dist', 'node_modules']));
  return (await stat(outZip)).mtimeMs >= (await newestMtime(sample.dir, inputs));
}

/** Transpiles src/**.ts into dist/, rewriting only changed files and removing outputs whose source is gone. */
async function compile(sampleDir, loadTs) {
  const srcDir = join(sampleDir, 'src');
  if (!existsSync(srcDir)) return;
  const ts = await loadTs();
  const distDir = join(sampleDir, 'dist');
  const wanted = new Set();
  for (const rel of await listFiles(srcDir)) {
    if (!/\.[mc]?ts$/.test(rel) || rel.endsWith('.d.ts')) continue;
    const fileName = join(srcDir, rel);
    const { outputText, diagnostics } = ts.transpileModule(await readFile(fileName, 'utf8'), {
      fileName,
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    });
    if (diagnostics?.length) {
      const text = ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' });
      throw new Error(`cannot compile ${relative(ROOT, fileName)}:\n${text}`);
    }
    const outRel = rel.replace(/\.ts$/, '.js').replace(/\.mts$/, '.mjs').replace(/\.cts$/, '.cjs');
    wanted.add(outRel);
    await writeIfChanged(join(distDir, outRel), outputText);
  }
  if (!existsSync(distDir)) return;
  for (const rel of await listFiles(distDir)) {
    if (!wanted.has(rel)) await rm(join(distDir, rel), { force: true });
  }
}

async function writeIfChanged(path, text) {
  const old = existsSync(path) ? await readFile(path, 'utf8') : null;
  if (old === text) return;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

/** A .js main compiled from ESM sources needs "type": "module" beside it; the sample's own package.json is kept. */
async function bundlePackageJson(sample) {
  const main = sample.manifest.main;
  if (!main || !main.endsWith('.js')) return null;
  const own = join(sample.dir, 'package.json');
  const pkg = existsSync(own) ? JSON.parse(await readFile(own, 'utf8')) : {};
  return Buffer.from(`${JSON.stringify({ ...pkg, type: 'module' }, null, 2)}\n`);
}

async function writeZip(sample, outZip) {
  const files = await listFiles(sample.dir, EXCLUDED_TOP);
  const zip = new yazl.ZipFile();
  const packageJson = await bundlePackageJson(sample);
  const names = [...files, ...(packageJson ? ['package.json'] : [])].sort();
  for (const name of names) {
    if (name === 'package.json' && packageJson) {
      zip.addBuffer(packageJson, name, { mtime: FIXED_MTIME, mode: 0o100644 });
      continue;
    }
    const path = join(sample.dir, ...name.split('/'));
    // The executable bit is what lets the host run `./run.sh`: keep it from the file (and always for *.sh).
    const executable = ((await lstat(path)).mode & 0o111) !== 0 || name.endsWith('.sh');
    zip.addFile(path, name, { mtime: FIXED_MTIME, mode: executable ? 0o100755 : 0o100644 });
  }
  zip.end();
  const partial = `${outZip}.${process.pid}.partial`;
  await pipeline(zip.outputStream, createWriteStream(partial));
  await rename(partial, outZip);
  return names.length;
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

async function buildSample(sample, args, loadTs) {
  const outZip = join(args.out, `${sample.name}.zip`);
  const outJobs = join(args.out, `${sample.name}.jobs.json`);
  const shown = relative(ROOT, outZip).split(sep).join('/') || outZip;
  if (!args.force && (await isUpToDate(sample, outZip, outJobs))) {
    console.log(`samples: ${sample.name} up to date (${shown})`);
    return;
  }
  await compile(sample.dir, loadTs);
  if (sample.manifest.main && !existsSync(join(sample.dir, sample.manifest.main))) {
    throw new Error(`samples/${sample.name}: main "${sample.manifest.main}" does not exist after compiling`);
  }
  const entries = await writeZip(sample, outZip);
  const jobs = await copyJobs(sample, outJobs);
  const size = (await stat(outZip)).size;
  console.log(`samples: ${sample.name} → ${shown} (${sample.manifest.kind}, ${entries} files, ${size} bytes, ${jobs} jobs)`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  await mkdir(args.out, { recursive: true });
  let ts = null;
  const loadTs = async () => (ts ??= (await import('typescript')).default);
  const names = (await readdir(SAMPLES, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const name of names) {
    if (args.only && name !== args.only) continue;
    const sample = await readSample(name);
    if (sample) await buildSample(sample, args, loadTs);
  }
}

main().catch((err) => {
  console.error(`build-samples: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
