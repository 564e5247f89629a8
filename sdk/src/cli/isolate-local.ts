/**
 * Local runs of `isolate` projects: the main is bundled exactly as `pack` bundles it (one CommonJS file), then
 * evaluated in a fresh node:vm context that has no require, process or module loader, and only the globals the
 * host's sandbox adds (console, timers, queueMicrotask; fetch only with a grant, so not here). It approximates the
 * host's isolated-vm sandbox (same code, no Node APIs); it is not a security boundary and has no memory limit.
 */
import { createContext, runInContext } from 'node:vm';
import { build, type BuildOptions } from 'esbuild';
import { CliError } from './args.js';

/** esbuild options for an isolate bundle; `pack` uses the very same ones. */
export const ISOLATE_BUILD: BuildOptions = {
  bundle: true,
  platform: 'neutral',
  format: 'cjs',
  mainFields: ['main', 'module'],
  target: 'es2022',
  write: false,
  logLevel: 'silent',
};

/** Bundles `entry` into one CommonJS script and returns its text. */
export async function bundleIsolate(entry: string): Promise<string> {
  const result = await build({ ...ISOLATE_BUILD, entryPoints: [entry] }).catch((err: Error) => {
    throw new CliError(`cannot bundle ${entry} for an isolate:\n${err.message}`);
  });
  const file = result.outputFiles?.[0];
  if (!file) throw new CliError(`esbuild produced no output for ${entry}`);
  return file.text;
}

/** Evaluates an isolate bundle in a context of its own and returns its `module.exports`. */
export function evaluateIsolate(script: string, filename: string): Record<string, unknown> {
  const context = createContext({ console, setTimeout, setInterval, clearTimeout, clearInterval, queueMicrotask });
  const module = runInContext(
    // Wrapped like a CommonJS module; the completion value is the exports object, read once.
    `(function () { var module = { exports: {} }; var exports = module.exports;\n${script}\n;return module.exports; })()`,
    context,
    { filename },
  ) as Record<string, unknown>;
  return module;
}
