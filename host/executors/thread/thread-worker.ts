/**
 * A worker of the thread executor's pool. It imports the bundle's main once (workerData.mainUrl), then serves MANY
 * runs at once: every batch from the host may start runs, abort runs and answer cache requests, and everything the
 * runs produce goes back in one batch per macrotask (see thread-protocol.ts). Runs are concurrent, so console output and
 * unhandled rejections find their run through AsyncLocalStorage. A class entry is instantiated once per worker.
 * Each result carries what its run used, measured here (worker-usage.ts).
 *
 * Job code shares this realm and may change its globals. The channel does not depend on them: what it uses was taken
 * before the bundle is imported (worker-primordials.ts) and its items are written as JSON by thread-wire.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../../errors/index.js';
import type { ThreadRun, ThreadTaskResult } from '../shared/run-protocol.js';
import type { RunUsage } from '../shared/executor.js';
import type { PoolHostItem, PoolHostMessage, PoolWorkerData, PoolWorkerMessage, ThreadTarget } from './thread-protocol.js';
import { Outbox } from './thread-outbox.js';
import { resultItemJson } from './thread-wire.js';
import { trackLeftovers } from '../shared/run-leftovers.js';
import { CacheRequests, openPooledRun, runOf, type PooledRun } from './thread-worker-run.js';
import { asRunnable, catchStrayRejections, routeConsole, runJob, type RunChannel, type Runnable } from '../shared/worker-context.js';
import { append, now, parse, postOn, SafeMap, setTimeoutSafe, settle } from '../shared/worker-primordials.js';
import { Heartbeat, takeVitals } from '../shared/worker-vitals.js';
import { WorkerUsage, type RunMeter, type UsageReading } from '../shared/worker-usage.js';

const modules = new SafeMap<string, Promise<Record<string, unknown>>>();
/** The namespaces already imported: the worker imports its bundle's main before it says ready. */
const imported = new SafeMap<string, Record<string, unknown>>();
const jobs = new SafeMap<string, Runnable>();

function serve(port: NonNullable<typeof parentPort>, vitals: SharedArrayBuffer | null): void {
  const runs = new AsyncLocalStorage<RunChannel>();
  const live = new SafeMap<string, PooledRun>();
  const usage = new WorkerUsage();
  // Runs handed over ahead of their time, by runId, and one timer per start time.
  const held = new SafeMap<string, Held>();
  /** What the runs of each job target share, by the host's id (thread-protocol.ts ThreadTarget). */
  const targets = new SafeMap<number, ThreadTarget>();
  const heldAt = new SafeMap<number, Held[]>();
  const heartbeat = new Heartbeat(vitals, () => live.size > 0);
  /**
   * Results of runs that ended since the last batch left, with their meters. Their figures are read once, as the
   * batch leaves: after everything the runs did in this macrotask (a synchronous job starts and ends inside one), and
   * one reading for a whole batch instead of one per run.
   */
  let ended: Ended[] = [];
  const send = (message: PoolWorkerMessage): void => postOn(port, message);
  const outbox = new Outbox((json) => send({ type: 'batch', json }), Infinity, () => {
    if (ended.length === 0) return;
    const finished = ended;
    ended = [];
    const at = usage.read();
    heartbeat.memory(at.heapBytes);
    for (let i = 0; i < finished.length; i++) {
      const { runId, result, startedAt, meter } = finished[i]!;
      push(resultJson(runId, result, startedAt, meter ? usage.close(meter, at) : null));
    }
  });
  const push = (itemJson: string): void => outbox.push(itemJson);
  const cache = new CacheRequests(push);

  // Every run ends with exactly one result item, whatever its job did to the worker's globals on the way.
  const finish = (runId: string, result: ThreadTaskResult, startedAt: number | undefined, meter: RunMeter | null): void => {
    live.delete(runId);
    heartbeat.ended();
    append(ended, { runId, result, startedAt, meter });
    outbox.touch();
  };
  /**
   * `at`: the reading taken for the runs starting now (one per batch or timer, not one per run). A run the host took
   * back (vitals.ts: it moved the run to another worker while this one was blocked) is dropped here.
   */
  const start = ({ run, slot, seq }: Held, at: UsageReading): void => {
    if (!heartbeat.claim(slot, seq)) return;
    const pooled = openPooledRun(run, push, cache);
    live.set(run.runId, pooled);
    const meter = usage.open(at);
    // A job of an imported main is called synchronously, inside this loop over the batch: no await before its first line.
    const load = (): Runnable | Promise<Runnable> => jobNow(run.mainUrl, run.entry);
    // A worker that blocks or dies inside the job's synchronous start names it (vitals.ts: current).
    heartbeat.enter(slot);
    const running = runs.run(pooled.channel, () => runJob(run, pooled.channel, load));
    heartbeat.leave();
    settle(
      running,
      (result) => finish(run.runId, result, pooled.startedAt, meter),
      (err: unknown) => finish(run.runId, { ok: false, error: serializeError(err) }, pooled.startedAt, meter),
    );
  };
  let batchReading: UsageReading | null = null;
  const batchStart = (): UsageReading => (batchReading ??= usage.read());
  const hold = (item: Held, at: number): void => {
    held.set(item.run.runId, item);
    const group = heldAt.get(at);
    if (group) return append(group, item);
    heldAt.set(at, [item]);
    const wake = (): void => {
      // Node's timers can wake a millisecond before Date.now() reaches `at` (dispatch/due-timer.ts); a run must not
      // start before its time, so an early wake waits for the rest.
      if (now() < at) return void setTimeoutSafe(wake, at - now());
      const due = heldAt.get(at) ?? [];
      heldAt.delete(at);
      let reading: UsageReading | undefined;
      for (let i = 0; i < due.length; i++) if (held.delete(due[i]!.run.runId)) start(due[i]!, (reading ??= usage.read()));
    };
    setTimeoutSafe(wake, at - now());
  };
  const onItem = (item: PoolHostItem): void => {
    if (item.type === 'start') {
      const run = runOf(item.run, targets);
      if (!run) {
        const message = `the host named job target ${String((item.run as { target?: unknown }).target)}, which this worker does not hold`;
        return finish(item.run.runId, { ok: false, error: { name: 'Error', message } }, undefined, null);
      }
      const held: Held = { slot: item.slot, seq: item.seq, run };
      const at = run.notBefore;
      if (at !== undefined && at > now()) hold(held, at);
      else start(held, batchStart());
    } else if (item.type === 'target') targets.set(item.id, item.target);
    else if (item.type === 'forget') targets.clear();
    else if (item.type === 'abort') {
      if (held.delete(item.runId)) {
        finish(item.runId, { ok: false, error: { name: 'AbortError', message: `run aborted before it started: ${item.reason}` } }, undefined, null);
      } else live.get(item.runId)?.abort(item.reason);
    } else cache.answer(item);
  };
  port.on('message', (message: PoolHostMessage) => {
    heartbeat.bump();
    batchReading = null;
    const items = parse(message.json) as PoolHostItem[];
    for (let i = 0; i < items.length; i++) onItem(items[i]!);
  });

  routeConsole(() => runs.getStore() ?? null);
  catchStrayRejections(() => runs.getStore() ?? null);
  trackLeftovers(() => runs.getStore() ?? null);
  // Before the bundle loads: its inline source maps (jobcenter-sdk build writes them) make a job's stack name src/…ts.
  process.setSourceMapsEnabled(true);
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
    settle(loading, (ns) => imported.set(mainUrl, ns), () => undefined);
  }
  return loading;
}

/** The job, at once when its main is imported (a throw is the run's error), else once it is. */
function jobNow(mainUrl: string, entry: string): Runnable | Promise<Runnable> {
  const known = jobs.get(`${mainUrl}#${entry}`);
  if (known) return known;
  const ns = imported.get(mainUrl);
  if (!ns) return loadJob(mainUrl, entry);
  const job = instantiate(pickExport(ns, entry), entry);
  jobs.set(`${mainUrl}#${entry}`, job);
  return job;
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

/** A run to start and its claim (vitals.ts). */
interface Held {
  readonly slot: number;
  readonly seq: number;
  readonly run: ThreadRun;
}

interface Ended {
  runId: string;
  result: ThreadTaskResult;
  startedAt: number | undefined;
  /** null for a run that never started (aborted while held). */
  meter: RunMeter | null;
}

/** A result item's JSON; a result that cannot be written (a job's specs that are not JSON) fails its run instead. */
function resultJson(runId: string, result: ThreadTaskResult, startedAt: number | undefined, used: RunUsage | null): string {
  try {
    return resultItemJson(runId, result, startedAt, used);
  } catch (err) {
    const { message: why, code } = serializeError(err);
    const message = `the run's outcome could not be sent to the host: ${why}`;
    const { cpuMs, peakMemoryMb } = used ?? result;
    const error = code === undefined ? { name: 'Error', message } : { name: 'Error', message, code };
    return resultItemJson(runId, { ok: false, error, cpuMs, peakMemoryMb }, startedAt);
  }
}

if (parentPort) serve(parentPort, takeVitals());
