/**
 * The code that runs first in every fresh context, compiled once per isolate in front of the bundle's main (one
 * script, one run per context): it builds the globals a job gets (console, timers, queueMicrotask, and fetch when
 * the context was made with a fetch bridge) on top of the host bridges, and hands the host three functions (run,
 * fire, abort). The host puts the bridges on BRIDGE_GLOBALS just before; the prelude takes them into closures and
 * deletes the globals before any job code runs, so job code can never reach an isolated-vm Reference or Callback
 * (README Security: a leaked Reference exposes its class to untrusted code).
 *
 * Nothing of a run is known at load: a context may be loaded as a spare before its run exists (isolate-context.ts).
 * The run's RunData arrives, copied, as an argument of the one entry call, `run(entry, data)`, which builds the
 * JobContext and calls the job.
 *
 * Compiling it once instead of an evalClosure per run saves ~0.6 ms a run (measured). The script's completion
 * value is `undefined` (see isolate-main.ts: a function there keeps the context alive after release).
 *
 * Bridges: log Callback, timer Callback, cache Reference, fetch Reference or undefined, register Reference.
 */
import { CACHE_KEY_LIMIT_TEXT, CACHE_KEY_MAX_CHARS, CACHE_VALUE_LIMIT_TEXT, CACHE_VALUE_MAX_CHARS, TOO_LARGE_CODES } from '../shared/wire-limits.js';

export const BRIDGE_GLOBALS = ['__jcLog', '__jcTimer', '__jcCache', '__jcFetch', '__jcRegister'] as const;

/** The prelude's name in stacks; its frames are cut from a run's error, which then names only the bundle's. */
export const PRELUDE_FILENAME = 'jobcenter:isolate-prelude';

const SANDBOX_HINT =
  'isolate jobs run in a sandbox without Node APIs (process, require, Buffer, fs…); use ctx.params, ctx.config, ctx.log and ctx.cache (and fetch when granted), or make it a thread job';
/** `<Node global> is not defined`, as V8 words a ReferenceError. */
const NODE_GLOBAL_MISSING = /^(process|require|Buffer|global|__dirname|__filename|setImmediate|clearImmediate) is not defined$/;

export const PRELUDE_SOURCE = String.raw`(function () {
const g = globalThis;
const hostLog = g.__jcLog, hostTimer = g.__jcTimer, cacheRef = g.__jcCache, fetchRef = g.__jcFetch, registerRef = g.__jcRegister;
for (const name of ['__jcLog', '__jcTimer', '__jcCache', '__jcFetch', '__jcRegister']) delete g[name];
const MAIN_KEY = '__jobcenterMain';
// The run's outcome is made with what the context had before job code ran: a job that replaces JSON or
// Array.isArray changes its own context only, never what its result says.
const stringify = JSON.stringify, parse = JSON.parse, isArray = Array.isArray;
const asyncOpts = { arguments: { copy: true }, result: { promise: true, copy: true } };

function show(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.stack || (value.name + ': ' + value.message);
  if (typeof value === 'function') return '[Function ' + (value.name || 'anonymous') + ']';
  if (typeof value === 'bigint' || typeof value === 'symbol' || value === undefined) return String(value);
  try { return JSON.stringify(value); } catch (err) { return String(value); }
}
function format(args) {
  let rest = Array.prototype.slice.call(args);
  let head = '';
  if (typeof rest[0] === 'string' && rest[0].indexOf('%') >= 0) {
    const fmt = rest.shift();
    head = fmt.replace(/%[sdijoO%]/g, (m) => {
      if (m === '%%') return '%';
      if (rest.length === 0) return m;
      const v = rest.shift();
      if (m === '%d' || m === '%i') return String(m === '%i' ? parseInt(v, 10) : Number(v));
      return show(v);
    });
    return [head].concat(rest.map(show)).join(' ');
  }
  return rest.map(show).join(' ');
}
function logAt(level) { return function () { hostLog(level, format(arguments)); }; }

const log = Object.freeze({ trace: logAt('trace'), debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') });
const consoleShim = Object.freeze({ log: logAt('info'), info: logAt('info'), warn: logAt('warn'), error: logAt('error'), debug: logAt('debug'), trace: logAt('trace') });

const listeners = new Set();
const signal = {
  aborted: false,
  reason: undefined,
  onabort: null,
  addEventListener(type, fn) { if (type === 'abort' && typeof fn === 'function') listeners.add(fn); },
  removeEventListener(type, fn) { listeners.delete(fn); },
  throwIfAborted() { if (signal.aborted) throw signal.reason; },
};
function abort(reason) {
  if (signal.aborted) return;
  const err = new Error(String(reason));
  err.name = 'AbortError';
  signal.aborted = true;
  signal.reason = err;
  const event = { type: 'abort', target: signal };
  const all = typeof signal.onabort === 'function' ? [signal.onabort].concat(Array.from(listeners)) : Array.from(listeners);
  for (const fn of all) {
    try { fn.call(signal, event); } catch (e) { hostLog('error', 'abort listener threw: ' + show(e)); }
  }
}

const timers = new Map();
let nextTimer = 1;
function arm(fn, delay, args, repeat) {
  if (typeof fn !== 'function') throw new TypeError('the callback must be a function');
  const id = nextTimer++;
  timers.set(id, { fn, args, repeat });
  hostTimer('set', id, Math.max(0, Number(delay) || 0), repeat);
  return id;
}
function disarm(id) {
  if (timers.delete(id)) hostTimer('clear', id);
}
function fire(id) {
  const timer = timers.get(id);
  if (!timer) return;
  if (!timer.repeat) timers.delete(id);
  try { timer.fn.apply(undefined, timer.args); } catch (e) { hostLog('error', 'uncaught error in a timer callback: ' + show(e)); }
}

function tooLarge(code, message) {
  const err = new Error(message);
  err.name = 'TooLargeError';
  err.code = code;
  return err;
}
// A value is measured here, in the job's own heap, before it is copied to the host: a string by its length alone.
function cacheJsonSize(value) {
  if (typeof value === 'string' && value.length > ${CACHE_VALUE_MAX_CHARS}) return value.length;
  const text = stringify(value);
  return text === undefined ? 0 : text.length;
}
const cache = Object.freeze({
  get(key) { return cacheRef.apply(undefined, ['get', String(key)], asyncOpts); },
  async set(key, value, opts) {
    const ttl = opts && opts.ttlMs !== undefined ? Number(opts.ttlMs) : undefined;
    const name = String(key);
    if (name.length > ${CACHE_KEY_MAX_CHARS}) {
      throw tooLarge('${TOO_LARGE_CODES.cacheKey}', ${JSON.stringify(CACHE_KEY_LIMIT_TEXT)} + name.length);
    }
    const size = cacheJsonSize(value);
    if (size > ${CACHE_VALUE_MAX_CHARS}) {
      throw tooLarge('${TOO_LARGE_CODES.cacheValue}', ${JSON.stringify(CACHE_VALUE_LIMIT_TEXT)} + size);
    }
    await cacheRef.apply(undefined, ['set', name, value, ttl], asyncOpts);
  },
  async delete(key) { await cacheRef.apply(undefined, ['delete', String(key)], asyncOpts); },
});

function makeResponse(reply) {
  const headers = new Map(reply.headers);
  return Object.freeze({
    status: reply.status,
    statusText: reply.statusText,
    ok: reply.status >= 200 && reply.status < 300,
    url: reply.url,
    redirected: reply.redirected,
    headers: Object.freeze({
      get(name) { const v = headers.get(String(name).toLowerCase()); return v === undefined ? null : v; },
      has(name) { return headers.has(String(name).toLowerCase()); },
      entries() { return headers.entries(); },
      forEach(fn) { headers.forEach((v, k) => fn(v, k)); },
    }),
    async text() { return reply.body; },
    async json() { return JSON.parse(reply.body); },
  });
}
function plainHeaders(headers) {
  const out = {};
  if (!headers) return out;
  const pairs = Array.isArray(headers) ? headers : typeof headers.entries === 'function' ? Array.from(headers.entries()) : Object.entries(headers);
  for (const [k, v] of pairs) out[String(k)] = String(v);
  return out;
}
async function fetchShim(url, init) {
  const plain = {};
  if (init && init.method !== undefined) plain.method = String(init.method);
  if (init && init.headers !== undefined) plain.headers = plainHeaders(init.headers);
  if (init && init.body !== undefined && init.body !== null) plain.body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  return makeResponse(await fetchRef.apply(undefined, [String(url), plain], asyncOpts));
}

function jobContext(data) {
  return Object.freeze({
    runId: data.runId,
    job: Object.freeze(data.job),
    params: data.params,
    config: Object.freeze(data.config),
    cache,
    log,
    signal,
    scheduledAt: new Date(data.scheduledAt),
    attempt: data.attempt,
    fencingToken: data.fencingToken,
  });
}

function pick(exported, entry) {
  if (exported !== null && (typeof exported === 'object' || typeof exported === 'function') && entry in exported) return exported[entry];
  if (entry === 'default') return exported;
  return undefined;
}
function instantiate(value, entry) {
  if (typeof value === 'function' && value.prototype && (typeof value.prototype.resolve === 'function' || typeof value.prototype.execute === 'function')) return new value();
  if (value !== null && typeof value === 'object' && (typeof value.resolve === 'function' || typeof value.execute === 'function')) return value;
  const err = new Error('export "' + entry + '" of the bundle is not a job (an object or class with execute() or resolve())');
  err.code = 'UNPROCESSABLE';
  throw err;
}
function sandboxed(message) {
  return ${NODE_GLOBAL_MISSING}.test(message) ? message + ': ' + ${JSON.stringify(SANDBOX_HINT)} : message;
}
function serialize(err) {
  if (err instanceof Error || (err !== null && typeof err === 'object' && typeof err.message === 'string')) {
    const message = String(err.message);
    const out = { name: String(err.name || 'Error'), message: err instanceof ReferenceError ? sandboxed(message) : message };
    if (typeof err.stack === 'string') out.stack = ownFrames(err.stack, message, out.message);
    if (err.code !== undefined) out.code = String(err.code);
    return out;
  }
  return { name: 'Error', message: show(err) };
}
// The stack without the prelude's frames (the host's code, not the job's), its first line with the hint.
function ownFrames(stack, message, shown) {
  const lines = stack.split('\n').filter((line) => line.indexOf(${JSON.stringify(PRELUDE_FILENAME)}) === -1);
  if (shown !== message && lines[0].endsWith(message)) lines[0] = lines[0].slice(0, lines[0].length - message.length) + shown;
  return lines.join('\n');
}
function toResult(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  let text;
  try { text = stringify(value); } catch (e) { throw new Error('the job\'s result could not be turned into JSON: ' + serialize(e).message); }
  return text === undefined ? null : text;
}
async function run(entry, data) {
  try {
    const context = jobContext(data);
    const main = globalThis[MAIN_KEY];
    delete globalThis[MAIN_KEY];
    if (!main) throw new Error('the bundle\'s main script did not run');
    const job = instantiate(pick(main.exports, entry), entry);
    if (typeof job.resolve === 'function') {
      const specs = await job.resolve(context);
      if (!isArray(specs)) {
        const err = new TypeError('a resolver must return an array of job specs, got ' + (specs === null ? 'null' : typeof specs));
        err.code = 'BAD_RESOLVER_OUTPUT';
        throw err;
      }
      return { ok: true, result: null, specs: parse(stringify(specs)) };
    }
    return { ok: true, result: toResult(await job.execute(context)) };
  } catch (err) {
    return { ok: false, error: serialize(err) };
  }
}

Object.defineProperty(globalThis, 'console', { value: consoleShim, writable: true, configurable: true });
globalThis.setTimeout = function setTimeout(fn, delay, ...args) { return arm(fn, delay, args, false); };
globalThis.setInterval = function setInterval(fn, delay, ...args) { return arm(fn, delay, args, true); };
globalThis.clearTimeout = function clearTimeout(id) { disarm(id); };
globalThis.clearInterval = function clearInterval(id) { disarm(id); };
globalThis.queueMicrotask = function queueMicrotask(fn) { Promise.resolve().then(fn); };
if (fetchRef) globalThis.fetch = function fetch(url, init) { return fetchShim(url, init); };

registerRef.applySync(undefined, [run, fire, abort], { arguments: { reference: true } });
})();
`;
/**
 * What a job that reaches for a Node global is told: `process is not defined` alone reads like a bug of the host.
 * The prelude adds it to a run's error (its copy of the test is in PRELUDE_SOURCE), the bundle scan to a load error.
 */
export function withSandboxHint(message: string): string {
  return NODE_GLOBAL_MISSING.test(message) ? `${message}: ${SANDBOX_HINT}` : message;
}
