/**
 * A worker of the thread executor's pool. It imports the bundle's main once (workerData.mainUrl), then serves MANY
 * runs at once: every batch from the host may start runs, abort runs and answer cache requests, and everything the
 * runs produce goes back in one batch per macrotask (see protocol.ts). Runs are concurrent, so console output and
 * unhandled rejections find their run through AsyncLocalStorage. A class entry is instantiated once per worker.
 * Each result carries what its run used, measured here (worker-usage.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../errors/index.js';
import type { PoolHostItem, PoolHostMessage, PoolWorkerData, PoolWorkerItem, PoolWorkerMessage, ThreadRun, ThreadTaskResult } from './protocol.js';
import { Outbox } from './thread-outbox.js';
import { CacheRequests, openPooledRun, type PooledRun } from './thread-worker-run.js';
import { asRunnable, catchStrayRejections, routeConsole, runJob, type RunChannel, type Runnable } from './worker-context.js';
import { WorkerUsage, type RunMeter, type UsageReading } from './worker-usage.js';

const modules = new Map<string, Promise<Record<string, unknown>>>();
const jobs = new Map<string, Runnable>();

function serve(port: NonNullable<typeof parentPort>): void {
  const runs = new AsyncLocalStorage<RunChannel>();
  const live = new Map<string, PooledRun>();
  const usage = new WorkerUsage();
  /**
   * Results pushed since the last batch left, with their runs' meters. Their figures are read once, as the batch
   * leaves: after everything the runs did in this macrotask (a synchronous job starts and ends inside one), and one
   * reading for a whole batch instead of one per run.
   */
  let ended: Array<[ThreadTaskResult, RunMeter]> = [];
  const measureEnded = (): void => {
    if (ended.length === 0) return;
    const at = usage.read();
    for (const [result, meter] of ended) Object.assign(result, usage.close(meter, at));
    ended = [];
  };
  const send = (message: PoolWorkerMessage): void => port.postMessage(message);
  const outbox: Outbox<PoolWorkerItem> = new Outbox({
    send: (items) => {
      measureEnded();
      send({ type: 'batch', json: JSON.stringify(items) });
    },
    onUnsendable(item, err) {
      if (item.type === 'cache') cache.fail(item.id, err);
      else if (item.type === 'result') {
        const { cpuMs, peakMemoryMb } = item.result;
        outbox.push({ type: 'result', runId: item.runId, result: { ok: false, error: serializeError(err), cpuMs, peakMemoryMb } });
      }
    },
  });
  const push = (item: PoolWorkerItem): void => outbox.push(item);
  const cache = new CacheRequests(push);

  /** `at`: the reading taken for the runs starting now (one per batch or timer, not one per run). */
  const start = (run: ThreadRun, at: UsageReading): void => {
    const pooled = openPooledRun(run, push, cache);
    live.set(run.runId, pooled);
    const meter = usage.open(at);
    // A job already loaded is called synchronously, inside this loop over the batch: no await before its first line.
    const known = jobs.get(`${run.mainUrl}#${run.entry}`);
    const load = known ? () => known : () => loadJob(run.mainUrl, run.entry);
    void runs.run(pooled.channel, () => runJob(run, pooled.channel, load)).then((result) => {
      live.delete(run.runId);
      ended.push([result, meter]);
      push({ type: 'result', runId: run.runId, result, startedAt: pooled.startedAt });
    });
  };
  let batchReading: UsageReading | null = null;
  const batchStart = (): UsageReading => (batchReading ??= usage.read());
  // Runs handed over ahead of their time, by runId, and one timer per start time.
  const held = new Map<string, ThreadRun>();
  const heldAt = new Map<number, ThreadRun[]>();
  const hold = (run: ThreadRun, at: number): void => {
    held.set(run.runId, run);
    const group = heldAt.get(at);
    if (group) return void group.push(run);
    heldAt.set(at, [run]);
    setTimeout(() => {
      const due = heldAt.get(at) ?? [];
      heldAt.delete(at);
      let reading: UsageReading | undefined;
      for (const r of due) if (held.delete(r.runId)) start(r, (reading ??= usage.read()));
    }, at - Date.now());
  };
  const onItem = (item: PoolHostItem): void => {
    if (item.type === 'start') {
      const at = item.run.notBefore;
      if (at !== undefined && at > Date.now()) hold(item.run, at);
      else start(item.run, batchStart());
    } else if (item.type === 'abort') {
      if (held.delete(item.runId)) {
        push({ type: 'result', runId: item.runId, result: { ok: false, error: { name: 'AbortError', message: `run aborted before it started: ${item.reason}` } } });
      } else live.get(item.runId)?.abort(item.reason);
    } else cache.answer(item);
  };
  port.on('message', (message: PoolHostMessage) => {
    batchReading = null;
    for (const item of JSON.parse(message.json) as PoolHostItem[]) onItem(item);
  });

  routeConsole(() => runs.getStore() ?? null);
  catchStrayRejections(() => runs.getStore() ?? null);
  // A bundle that fails to import fails each run with the import's error (loadJob awaits the same promise).
  void loadModule((workerData as PoolWorkerData).mainUrl)
    .catch(() => {})
    .then(() => send({ type: 'ready' }));
}

function loadModule(mainUrl: string): Promise<Record<string, unknown>> {
  let loading = modules.get(mainUrl);
  if (!loading) {
    loading = import(mainUrl) as Promise<Record<string, unknown>>;
    modules.set(mainUrl, loading);
  }
  return loading;
}

async function loadJob(mainUrl: string, entry: string): Promise<Runnable> {
  const key = `${mainUrl}#${entry}`;
  const known = jobs.get(key);
  if (known) return known;
  const job = instantiate(pickExport(await loadModule(mainUrl), entry), entry);
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

if (parentPort) serve(parentPort);
