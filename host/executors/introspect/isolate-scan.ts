/**
 * Lists the jobs and resolvers of an isolate bundle at upload: its main runs once in a throw-away isolate with a
 * small memory limit and a time limit, behind the same prelude a run gets (so top-level code that works in a run
 * works here), and the exported values with execute/resolve are classified inside the isolate — reading the
 * bundle's properties may run its getters, which must not happen in the host's realm.
 */
import ivm from 'isolated-vm';
import { unprocessable } from '../../errors/index.js';
import { compileRunScript, isMemoryLimitError, MAIN_KEY, readRunScript, runRunScript, type RunScript } from '../isolate/isolate-main.js';
import { BRIDGE_GLOBALS, withSandboxHint } from '../isolate/isolate-prelude.js';
import type { BundleExport } from '../../domain/index.js';

export interface IsolateScanOptions {
  readonly timeoutMs: number;
  readonly memoryLimitMb: number;
}

/** Same rules as the thread scan: resolve wins over execute, a class counts by its prototype. */
const CLASSIFY_SOURCE = String.raw`
const main = globalThis['${MAIN_KEY}'];
const exported = main ? main.exports : undefined;
const method = (v, name) => { try { return typeof v[name] === 'function'; } catch (e) { return false; } };
const classify = (v) => {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return null;
  let proto = null;
  if (typeof v === 'function') { try { proto = v.prototype; } catch (e) { proto = null; } }
  if (method(v, 'resolve') || (proto && method(proto, 'resolve'))) return 'resolver';
  if (method(v, 'execute') || (proto && method(proto, 'execute'))) return 'job';
  return null;
};
const found = [];
const own = classify(exported);
if (own) found.push({ name: 'default', type: own });
else if (exported !== null && typeof exported === 'object') {
  for (const name of Object.keys(exported)) {
    let value;
    try { value = exported[name]; } catch (e) { continue; }
    const type = classify(value);
    if (type) found.push({ name, type });
  }
}
return found;
`;

/** Resolves with the main's exports or rejects with UNPROCESSABLE saying why it could not be loaded. */
export async function scanIsolateMain(mainFile: string, opts: IsolateScanOptions): Promise<BundleExport[]> {
  let source: string;
  try {
    source = await readRunScript(mainFile);
  } catch (err) {
    throw unprocessable(`main script could not be read: ${messageOf(err)}`);
  }
  const isolate = new ivm.Isolate({ memoryLimit: opts.memoryLimitMb });
  // A script that awaits nothing cannot outlive its sync timeout, but a wall-clock backstop costs nothing.
  const backstop = setTimeout(() => {
    if (!isolate.isDisposed) isolate.dispose();
  }, opts.timeoutMs * 2);
  try {
    return await scanIn(isolate, source, mainFile, opts);
  } catch (err) {
    throw unprocessable(scanFailure(err, opts));
  } finally {
    clearTimeout(backstop);
    if (!isolate.isDisposed) isolate.dispose();
  }
}

async function scanIn(isolate: ivm.Isolate, source: string, mainFile: string, opts: IsolateScanOptions): Promise<BundleExport[]> {
  let script: RunScript;
  try {
    script = await compileRunScript(isolate, source, mainFile);
  } catch (err) {
    throw Object.assign(new Error(`main script does not compile: ${messageOf(err)}`), { scan: true });
  }
  const context = await isolate.createContext();
  const inert = [
    new ivm.Callback(() => undefined),
    new ivm.Callback(() => undefined),
    new ivm.Reference(async () => {
      throw new Error('the cache is not available while the bundle is inspected');
    }),
    undefined,
    new ivm.Reference(() => undefined),
  ];
  BRIDGE_GLOBALS.forEach((name, i) => context.global.setSync(name, inert[i]));
  await runRunScript(script, context, opts.timeoutMs);
  const found: unknown = await context.evalClosure(CLASSIFY_SOURCE, [], { timeout: opts.timeoutMs, result: { copy: true } });
  return (found as BundleExport[]).map((e) => ({ name: String(e.name), type: e.type === 'resolver' ? 'resolver' : 'job' }));
}

function scanFailure(err: unknown, opts: IsolateScanOptions): string {
  if (isMemoryLimitError(err) || (err instanceof Error && /disposed/.test(err.message))) {
    return `main script ran out of memory or time while loading (limits ${opts.memoryLimitMb} MB, ${opts.timeoutMs} ms)`;
  }
  if (err instanceof Error && /Script execution timed out/.test(err.message)) {
    return `main script did not finish loading within ${opts.timeoutMs} ms`;
  }
  if (err instanceof Error && 'scan' in err) return err.message;
  return `main script threw while loading: ${messageOf(err)}`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${withSandboxHint(err.message)}` : String(err);
}
