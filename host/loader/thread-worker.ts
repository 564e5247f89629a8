/**
 * The pool worker of the thread executor. Piscina calls the default export once per run; the bundle's main module
 * is imported once per worker (the ESM cache of this thread keeps it), and a class entry is instantiated once.
 */
import { serializeError } from '../errors/index.js';
import type { ThreadTask, ThreadTaskResult } from './protocol.js';
import { asRunnable, openRunChannel, routeConsole, runJob, type RunChannel, type Runnable } from './worker-context.js';

const modules = new Map<string, Promise<Record<string, unknown>>>();
const jobs = new Map<string, Runnable>();
let current: RunChannel | null = null;

routeConsole(() => current);
// A job's forgotten promise must not take the worker (and the other runs it would serve) down with it.
process.on('unhandledRejection', (reason) => {
  const error = serializeError(reason);
  current?.log('error', `unhandled promise rejection: ${error.stack ?? error.message}`);
});

export default async function runTask(task: ThreadTask): Promise<ThreadTaskResult> {
  const channel = openRunChannel(task);
  current = channel;
  try {
    return await runJob(task, channel, () => loadJob(task.mainUrl, task.entry));
  } finally {
    current = null;
  }
}

async function loadJob(mainUrl: string, entry: string): Promise<Runnable> {
  const key = `${mainUrl}#${entry}`;
  const known = jobs.get(key);
  if (known) return known;
  let loading = modules.get(mainUrl);
  if (!loading) {
    loading = import(mainUrl) as Promise<Record<string, unknown>>;
    modules.set(mainUrl, loading);
  }
  const ns = await loading;
  const job = instantiate(pickExport(ns, entry), entry);
  jobs.set(key, job);
  return job;
}

/** ESM named export first; a CommonJS main exposes module.exports as `default`. */
function pickExport(ns: Record<string, unknown>, entry: string): unknown {
  if (entry in ns) return ns[entry];
  const cjs = ns.default;
  if (cjs !== null && (typeof cjs === 'object' || typeof cjs === 'function') && entry in cjs) {
    return (cjs as Record<string, unknown>)[entry];
  }
  if (entry === 'default') return cjs;
  return undefined;
}

function instantiate(exported: unknown, entry: string): Runnable {
  if (typeof exported === 'function') {
    const proto = (exported as { prototype?: Record<string, unknown> }).prototype;
    if (proto && (typeof proto.resolve === 'function' || typeof proto.execute === 'function')) {
      return new (exported as new () => Runnable)();
    }
  } else {
    const runnable = asRunnable(exported);
    if (runnable) return runnable;
  }
  throw Object.assign(new Error(`export "${entry}" of the bundle is not a job (an object or class with execute() or resolve())`), {
    code: 'UNPROCESSABLE',
  });
}
