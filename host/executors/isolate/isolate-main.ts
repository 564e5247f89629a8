/**
 * How an isolate bundle's main (one CommonJS script, e.g. esbuild `--bundle --platform=neutral --format=cjs`)
 * becomes a script that can run in any fresh context of an isolate: compiled once per isolate, run once per run.
 */
import { readFile } from 'node:fs/promises';
import ivm from 'isolated-vm';
import { PRELUDE_FILENAME, PRELUDE_SOURCE } from './isolate-prelude.js';

/** Global the wrapped main leaves its `module` on; the prelude's runner takes it and deletes it. */
export const MAIN_KEY = '__jobcenterMain';

/** What precedes the bundle's first line; the main compiles with a column offset of minus its length. */
const MAIN_PREFIX = '(function () { var module = { exports: {} }; (function (module, exports) {';

/**
 * Wraps the bundle in a CommonJS function scope (`module`, `exports`, `this === exports`; no `require`). The bundle
 * starts on line 1 (its columns there shifted back) so stack traces keep its line and column numbers. The script ends with `undefined`: a completion value
 * that is a function or object would keep the context alive after release (measured trap).
 */
export function wrapMain(source: string): string {
  return (
    `${MAIN_PREFIX}${source}\n` +
    `}).call(module.exports, module, module.exports);\n` +
    `Object.defineProperty(globalThis, '${MAIN_KEY}', { value: module, configurable: true, enumerable: false }); })();\n` +
    `undefined;\n`
  );
}

/** The wrapped main a run of the bundle runs in its fresh context, after the prelude. */
export async function readRunScript(file: string): Promise<string> {
  return wrapMain(await readFile(file, 'utf8'));
}

/**
 * What every fresh context of an isolate runs: the prelude, then the bundle's main. Two scripts, so that each names
 * its own file and lines in a stack (one script with a negative line offset gave the prelude's frames lines like -15).
 */
export interface RunScript {
  readonly prelude: ivm.Script;
  readonly main: ivm.Script;
}

/** Compiles the prelude and the wrapped main in an isolate; a syntax error names the bundle's file and line. */
export async function compileRunScript(isolate: ivm.Isolate, main: string, file: string): Promise<RunScript> {
  const prelude = await isolate.compileScript(PRELUDE_SOURCE, { filename: PRELUDE_FILENAME });
  return { prelude, main: await isolate.compileScript(main, { filename: `file://${file}`, columnOffset: -MAIN_PREFIX.length }) };
}

/** Runs the prelude, then the main, in a context; `timeout` bounds each (isolated-vm's own limit). */
export async function runRunScript(script: RunScript, context: ivm.Context, timeout: number): Promise<void> {
  await script.prelude.run(context, { timeout });
  await script.main.run(context, { timeout });
}

/** isolated-vm's own wording when an isolate is gone: disposed by us, or by V8 at its memory limit. */
export function isDisposalError(err: unknown): boolean {
  return err instanceof Error && /Isolate (was|is already) disposed|Promise was abandoned/.test(err.message);
}

export function isMemoryLimitError(err: unknown): boolean {
  return err instanceof Error && /memory limit/i.test(err.message);
}

export function isCpuTimeoutError(err: unknown): boolean {
  return err instanceof Error && /Script execution timed out/.test(err.message);
}
