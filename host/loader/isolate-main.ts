/**
 * How an isolate bundle's main (one CommonJS script, e.g. esbuild `--bundle --platform=neutral --format=cjs`)
 * becomes a script that can run in any fresh context of an isolate: compiled once per isolate, run once per run.
 */
import { readFile } from 'node:fs/promises';
import ivm from 'isolated-vm';
import { PRELUDE_LINES, PRELUDE_SOURCE } from './isolate-prelude.js';

/** Global the wrapped main leaves its `module` on; the prelude's runner takes it and deletes it. */
export const MAIN_KEY = '__jobcenterMain';

/**
 * Wraps the bundle in a CommonJS function scope (`module`, `exports`, `this === exports`; no `require`). The bundle
 * starts on line 1 so stack traces keep their line numbers. The script ends with `undefined`: a completion value
 * that is a function or object would keep the context alive after release (measured trap).
 */
export function wrapMain(source: string): string {
  return (
    `(function () { var module = { exports: {} }; (function (module, exports) {${source}\n` +
    `}).call(module.exports, module, module.exports);\n` +
    `Object.defineProperty(globalThis, '${MAIN_KEY}', { value: module, configurable: true, enumerable: false }); })();\n` +
    `undefined;\n`
  );
}

/** The script every run of the bundle runs in its fresh context: the prelude, then the wrapped main. */
export async function readRunScript(file: string): Promise<string> {
  return PRELUDE_SOURCE + wrapMain(await readFile(file, 'utf8'));
}

/** Compiles a run script in an isolate; a syntax error names the bundle's file and line. */
export async function compileRunScript(isolate: ivm.Isolate, source: string, file: string): Promise<ivm.Script> {
  return isolate.compileScript(source, { filename: `file://${file}`, lineOffset: -PRELUDE_LINES });
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
