/**
 * The pool worker of the thread executor. Piscina calls the default export once per run; the bundle's main module
 * is imported once per worker (the ESM cache of this thread keeps it), and a class entry is instantiated once.
 */
import type { JobContext, JobSpec } from '@jobcenter/job-api';
import { serializeError } from '../errors/index.js';
import type { ThreadTask, ThreadTaskResult } from './protocol.js';
import { openRunChannel, routeConsole, type RunChannel } from './worker-context.js';

/** A job (execute) or a resolver (resolve: returns the sub-jobs it wants). */
type Runnable = { execute(ctx: JobContext): unknown } | { resolve(ctx: JobContext): unknown };

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
    const job = await loadJob(task.mainUrl, task.entry);
    channel.post({ type: 'started', at: Date.now() });
    if ('resolve' in job) {
      const specs = checkSpecs(await job.resolve(channel.context));
      return { ok: true, result: null, specs };
    }
    const value = await job.execute(channel.context);
    return { ok: true, result: toResult(value, task.resultMaxChars) };
  } catch (err) {
    return { ok: false, error: serializeError(err) };
  } finally {
    current = null;
    channel.post({ type: 'end' });
    channel.close();
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
  } else if (exported !== null && typeof exported === 'object') {
    const candidate = exported as Record<string, unknown>;
    if (typeof candidate.resolve === 'function' || typeof candidate.execute === 'function') return exported as Runnable;
  }
  throw Object.assign(new Error(`export "${entry}" of the bundle is not a job (an object or class with execute() or resolve())`), {
    code: 'UNPROCESSABLE',
  });
}

/** A resolver must return an array of plain, cloneable specs; the host validates each one when it reconciles. */
function checkSpecs(value: unknown): JobSpec[] {
  if (!Array.isArray(value)) {
    throw Object.assign(new Error(`a resolver must return an array of job specs, got ${value === null ? 'null' : typeof value}`), {
      code: 'BAD_RESOLVER_OUTPUT',
    });
  }
  return structuredClone(value) as JobSpec[];
}

function toResult(value: unknown, maxChars: number): string | null {
  if (value === undefined || value === null) return null;
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw new Error(`the job's result could not be turned into JSON: ${serializeError(err).message}`);
    }
  }
  if (text === undefined) return null;
  return text.length > maxChars ? text.slice(0, maxChars) : text;
}
