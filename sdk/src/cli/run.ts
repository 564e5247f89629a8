/**
 * `jobcenter-sdk run`: runs one job of the project in D locally, with the context the host gives it: config merged
 * by loadConfig, a cache kept between invocations (in .jobcenter/cache/), log lines printed as they come, and
 * ctx.signal aborted on Ctrl-C or --timeout.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModuleDefinition, PJob, PJobResolver } from '@jobcenter/job-api';
import { loadConfig, loadModuleConfig } from '@jobcenter/config';
import { runLocal, type LogLine, type RunLocalOptions } from '../local.js';
import { startModuleLocal } from '../module-local.js';
import { CliError, flag, json, parse, positiveInt, str, type Options, type Parsed } from './args.js';
import { cacheFile, clearCache, loadCache, saveCache } from './file-cache.js';
import { bundleIsolate, evaluateIsolate } from './isolate-local.js';
import { runExecLocal } from './exec-local.js';
import { runBuildScript } from './pack.js';
import { newestUnder, readProject, type Project } from './project.js';

export const RUN_HELP = `Usage: jobcenter-sdk run <export> [options]
       jobcenter-sdk run <argv...> [options]          (kind exec: the command line, e.g. ./run.sh)

Runs one job of the project locally, once, with the context the host gives it, and prints its log and result.
Exit code 0 when it succeeds, 1 when it fails.

  <export>             thread/isolate: the export name; module: the bean name; exec: the command to run
  --params JSON        the job's params (default: null)
  --config-file F      config/F as on the host (e.g. app.properties)
  --profile P          overlay config/<F-stem>-P.properties (module: application-P.properties too)
  --config k=v         a job config override (repeatable)
  --timeout MS         abort ctx.signal and fail after MS milliseconds
  --fresh-cache        start from an empty cache (the cache is kept in .jobcenter/cache/ between runs)
  --dir D              the project folder (default: .)

thread and module projects run the built main, built first (the "build" script, without the type check) when
it is missing or older than a file under src/; isolate projects are bundled
as \`pack\` bundles them and evaluated without Node APIs. Ctrl-C aborts ctx.signal; a second Ctrl-C exits.`;

const OPTIONS: Options = {
  params: { type: 'string' },
  'config-file': { type: 'string' },
  profile: { type: 'string' },
  config: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  'fresh-cache': { type: 'boolean' },
  dir: { type: 'string' },
};

export async function runCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const p = parse('run', argv, OPTIONS);
  if (p.values.help) return void out.write(`${RUN_HELP}\n`), 0;
  if (p.positionals.length === 0) throw new CliError('run needs the export (or bean, or command) to run\n(see: jobcenter-sdk run --help)');
  const project = await readProject(str(p, 'dir'));
  const config = await loadConfig({ dir: project.dir, file: str(p, 'config-file'), profile: str(p, 'profile'), overrides: overrides(p) });
  const controller = new AbortController();
  const stopSignals = onInterrupt(controller, err);
  try {
    if (project.manifest.kind === 'exec') {
      return await runExecLocal({ project, argv: p.positionals, params: json(p, 'params') ?? null, config, signal: controller.signal, out, err });
    }
    return await runJsJob(project, p, config, controller.signal, out, err);
  } finally {
    stopSignals();
  }
}

async function runJsJob(project: Project, p: Parsed, config: Record<string, string>, signal: AbortSignal, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const name = p.positionals[0];
  const file = cacheFile(project.dir, name);
  if (flag(p, 'fresh-cache')) await clearCache(file);
  const cache = await loadCache(file, (m) => err.write(`warning: ${m}\n`));
  const opts: RunLocalOptions = {
    params: json(p, 'params') ?? null,
    config,
    cache,
    signal,
    timeoutMs: positiveInt(p, 'timeout'),
    jobName: name,
    project: project.manifest.name,
    onLog: (line) => out.write(formatLine(line)),
  };
  const started = Date.now();
  try {
    const { result } = await runJob(project, name, p, opts, out);
    out.write(`SUCCEEDED in ${Date.now() - started} ms\nresult: ${result ?? '(none)'}\n`);
    return 0;
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    out.write(`FAILED in ${Date.now() - started} ms: ${error.message}\n`);
    if (error.stack && !(e instanceof CliError)) err.write(`${error.stack}\n`);
    return 1;
  } finally {
    // Nothing stored and nothing saved before: no file, so a mistyped export leaves no trace.
    if (cache.size > 0 || existsSync(file)) await saveCache(file, cache);
  }
}

async function runJob(project: Project, name: string, p: Parsed, opts: RunLocalOptions, out: NodeJS.WritableStream) {
  const main = join(project.dir, project.manifest.main ?? '');
  if (project.manifest.kind !== 'isolate') await buildIfStale(project, main, out);
  if (!existsSync(main)) throw new CliError(`main ${main} does not exist${project.manifest.kind === 'isolate' ? '' : ' (build the project first: npm run build)'}`);
  // The build's inline source maps: a stack names src/index.ts, as on the host.
  process.setSourceMapsEnabled(true);
  if (project.manifest.kind === 'module') {
    const mod = await import(pathToFileURL(main).href) as { default?: ModuleDefinition };
    if (!mod.default) throw new CliError(`${project.manifest.main} has no default export (export default defineModule({...}))`);
    const moduleConfig = await loadModuleConfig(project.dir, str(p, 'profile'));
    const ctx = await startModuleLocal(mod.default, { config: moduleConfig, onLog: (line) => out.write(formatLine(line, 'module')) });
    try {
      return await ctx.run(name, opts);
    } finally {
      await ctx.stop();
    }
  }
  const exports = project.manifest.kind === 'isolate'
    ? evaluateIsolate(await bundleIsolate(main), `${project.manifest.name}.js`)
    : await import(pathToFileURL(main).href) as Record<string, unknown>;
  return runLocal(asJob(exports, name, project.manifest.main ?? ''), opts);
}

/**
 * Runs the project's build script when main is missing or older than a file under src/, so a run never uses code
 * the sources no longer say; without a build script, says to build.
 */
async function buildIfStale(project: Project, main: string, out: NodeJS.WritableStream): Promise<void> {
  const built = existsSync(main) ? (await stat(main)).mtimeMs : null;
  const changed = await newestUnder(project.dir, ['src']);
  if (built !== null && (!changed || changed.mtimeMs <= built)) return;
  const why = built === null ? `${project.manifest.main} does not exist` : `${changed!.rel} changed after the last build`;
  if (!project.pkg?.scripts?.build) throw new CliError(`${why}: build the project first (no "build" script in package.json)`);
  out.write(`${why}: running npm run build\n`);
  await runBuildScript(project.dir);
}

/** The export as a job; a resolver runs as a job whose result is the specs it returns, as JSON. */
function asJob(exports: Record<string, unknown>, name: string, main: string): PJob {
  const value = exports[name] as Partial<PJob & PJobResolver> | undefined;
  if (value && typeof value.execute === 'function') return value as PJob;
  if (value && typeof value.resolve === 'function') {
    const resolver = value as PJobResolver;
    return { execute: async (ctx) => JSON.stringify(await resolver.resolve(ctx), null, 2) };
  }
  const jobs = Object.keys(exports).filter((k) => {
    const v = exports[k] as Partial<PJob & PJobResolver> | null;
    return typeof v?.execute === 'function' || typeof v?.resolve === 'function';
  });
  throw new CliError(`${main} has no job export "${name}"${jobs.length ? ` (jobs: ${jobs.join(', ')})` : ''}`);
}

function overrides(p: Parsed): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (p.values.config as string[] | undefined) ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`--config takes key=value, got "${pair}"`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

export function formatLine(line: LogLine, source?: string): string {
  const time = line.at.toISOString().slice(11, 23);
  return `${time} ${line.level.toUpperCase().padEnd(5)} ${source ? `[${source}] ` : ''}${line.message}\n`;
}

/** First Ctrl-C (or SIGTERM) aborts the run's signal; a second one exits at once. Returns the remover. */
function onInterrupt(controller: AbortController, err: NodeJS.WritableStream): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    err.write(`\n${signal}: aborting the run (again to exit now)\n`);
    controller.abort(new Error(`aborted by ${signal}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
