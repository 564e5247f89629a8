/**
 * The host's handle on one worker of a thread pool: the runs in flight on it and the batches to and from it.
 * States: starting → ready → ended. A worker serves many runs at once. Its vitals (vitals.ts) tell which of them had
 * started: when it is blocked, the runs that had not are handed back to the pool (onUnstarted); whatever ends it (a
 * kill, its memory limit, process.exit, an uncaught error), those that had not are handed back too, the run that
 * caused it fails with the reason, and the others that had started are lost with an error naming that run.
 */
import type { Worker } from 'node:worker_threads';
import { serializeError } from '../../errors/index.js';
import type { Logger } from '../../log/logger.js';
import { killGroupsOnExit } from '../shared/child-groups.js';
import type { RunHooks } from '../shared/executor.js';
import { startWorkerFile } from '../shared/worker-file.js';
import type { ThreadRun, ThreadTaskResult } from '../shared/run-protocol.js';
import type { PoolHostItem, PoolHostMessage, PoolWorkerData, PoolWorkerItem, ThreadTarget } from './thread-protocol.js';
import { callCache } from '../shared/run-port.js';
import { LOST_RUN_CODES, lostRunError, type WorkerEnd } from './thread-errors.js';
import { Outbox } from './thread-outbox.js';
import { BLOCKED_MS, culpritOf, WorkerVitals } from '../shared/vitals.js';
import { unreadableRunError } from '../shared/wire-read.js';
import { readPoolWorkerItem, readPoolWorkerMessage } from './thread-read.js';
import { numberJson } from './thread-wire.js';

/**
 * Items per host → worker message. A burst is sent in slices so the worker starts on the first runs while the host
 * is still handing out the rest (2 cores: the host and the workers run in parallel).
 */
const MAX_BATCH = 64;

/** Targets a worker holds at most: past that it is told to forget them all, and gets them again as runs need them. */
const MAX_TARGETS = 1_024;

/** A run's start item, serialised ahead (startItem), and the target it names (null: the item holds the whole run). */
export interface StartItem {
  readonly json: string;
  readonly target: SharedPart | null;
}

/**
 * A run's start item as the worker gets it, serialised, without its claim (added when it is sent to a worker);
 * throws for what JSON cannot carry (a BigInt). What every run of one job target shares (its job, bundle, entry,
 * config and limits) is made JSON once per config object (targets.ts makes one per job and bundle version, and keeps
 * it while the target is reused), and crosses to each worker once (a 'target' item, thread-protocol.ts): the item
 * holds the run's id, params, times and attempt, and the target's id.
 */
export function startItem(run: ThreadRun): StartItem {
  if (run.config === null || typeof run.config !== 'object') return { json: JSON.stringify({ type: 'start', run }), target: null };
  const shared = sharedPart(run);
  let head = `{"type":"start","run":{"runId":${JSON.stringify(run.runId)},"scheduledAt":${numberJson(run.scheduledAt)},"attempt":${numberJson(run.attempt)}`;
  // As JSON.stringify does: params that JSON cannot carry (undefined, a function) leave the key out.
  const params = JSON.stringify(run.params) as string | undefined;
  if (params !== undefined) head += `,"params":${params}`;
  if (run.notBefore !== undefined) head += `,"notBefore":${numberJson(run.notBefore)}`;
  return { json: `${head},"target":${shared.id}}}`, target: shared };
}

/** What every run of one job target shares, its id, and its 'target' item as JSON. */
interface SharedPart {
  readonly id: number;
  readonly target: ThreadTarget;
  readonly json: string;
}

const sharedParts = new WeakMap<object, SharedPart>();
let lastTargetId = 0;

function sharedPart(run: ThreadRun): SharedPart {
  const known = sharedParts.get(run.config);
  if (known && sameShared(known.target, run)) return known;
  const { job, mainUrl, entry, config, fencingToken, resultMaxChars, logMaxBytes } = run;
  const target: ThreadTarget = { job: { id: job.id, name: job.name, project: job.project }, mainUrl, entry, config, fencingToken, resultMaxChars, logMaxBytes };
  const id = ++lastTargetId;
  const part: SharedPart = { id, target, json: JSON.stringify({ type: 'target', id, target } satisfies PoolHostItem) };
  sharedParts.set(config, part);
  return part;
}

/** The run is of this target (its config object is the target's: the WeakMap's key). */
function sameShared(target: ThreadTarget, run: ThreadRun): boolean {
  return (
    target.job.id === run.job.id &&
    target.job.name === run.job.name &&
    target.job.project === run.job.project &&
    target.mainUrl === run.mainUrl &&
    target.entry === run.entry &&
    target.fencingToken === run.fencingToken &&
    target.resultMaxChars === run.resultMaxChars &&
    target.logMaxBytes === run.logMaxBytes
  );
}

/** Where a run's end is reported (the pool's ticket of the run). */
export interface RunSettle {
  resolve(result: ThreadTaskResult): void;
  reject(err: Error): void;
}

interface InFlight<S extends RunSettle> {
  readonly hooks: RunHooks;
  readonly settle: S;
  /** Its claim in the worker's vitals. */
  readonly slot: number;
  /** When it is due: its start time (a planned fire handed over early), else 0 (at once). */
  readonly dueAt: number;
}

export interface WorkerHandleOptions<S extends RunSettle> {
  readonly data: PoolWorkerData;
  readonly env: Readonly<Record<string, string>>;
  readonly memoryLimitMb: number;
  /** Runs in flight at most (the pool's runsPerWorker): one claim slot each in the vitals. */
  readonly slots: number;
  readonly logger: Logger;
  /** The worker became ready, runs on it ended, it became blocked or free again, or it ended: the pool re-plans. */
  readonly onChange: (handle: WorkerHandle<S>) => void;
  /** Runs it was given that never started and never will here (it is blocked, or ended): the pool places them again. */
  readonly onUnstarted: (handle: WorkerHandle<S>, runs: S[]) => void;
}

export class WorkerHandle<S extends RunSettle = RunSettle> {
  #state: 'starting' | 'ready' | 'ended' = 'starting';
  #end: WorkerEnd | null = null;
  #everReady = false;
  #blocked = false;
  readonly #runs = new Map<string, InFlight<S>>();
  /** The ids of the targets this worker holds ('target' items sent to it). */
  readonly #targets = new Set<number>();
  readonly #vitals: WorkerVitals;
  readonly #worker: Worker;
  /** Items as JSON texts: a planned run's start item is serialised when it is prepared, not at its fire time. */
  readonly #outbox: Outbox;
  readonly #options: WorkerHandleOptions<S>;
  /** Resolves once the thread is gone. */
  readonly exited: Promise<void>;

  constructor(options: WorkerHandleOptions<S>) {
    this.#options = options;
    this.#vitals = new WorkerVitals(options.slots);
    this.#worker = startWorkerFile(import.meta.url, 'thread-worker', {
      workerData: { ...options.data, vitals: this.#vitals.buffer } satisfies PoolWorkerData,
      resourceLimits: { maxOldGenerationSizeMb: options.memoryLimitMb },
      env: { ...options.env },
      // Job output goes to its run's log (worker-context.ts routeStdio); what goes round that is read and dropped
      // here instead of reaching the host's stdout.
      stdout: true,
      stderr: true,
    });
    this.exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    killGroupsOnExit(this.#worker);
    this.#outbox = new Outbox((json) => this.#worker.postMessage({ type: 'batch', json } satisfies PoolHostMessage), MAX_BATCH);
    this.#listen();
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  /** It became ready at some point (a worker that dies while starting would die again). */
  get everReady(): boolean {
    return this.#everReady;
  }

  get ended(): boolean {
    return this.#state === 'ended';
  }

  /** Why it ended (null while alive). */
  get endReason(): WorkerEnd | null {
    return this.#end;
  }

  /** Runs in flight on this worker. */
  get load(): number {
    return this.#runs.size;
  }

  /** Its event loop was stuck for BLOCKED_MS at the last inspect(): it gets no runs until that changes. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /**
   * Reads the worker's vitals (the pool calls it every WATCH_MS while runs are due): ends a worker over its memory
   * limit; marks it blocked, handing back the runs that had not started, or free again. Returns when its first run
   * is due (#dueAt), so the pool knows how long it may sleep.
   */
  inspect(now: number): number {
    if (this.#state !== 'ready') return Infinity;
    this.#vitals.noteMemory();
    if (this.#overLimit()) return Infinity;
    if (this.#runs.size === 0) {
      this.#vitals.rest(now);
      if (this.#blocked) this.#setBlocked(false);
      return Infinity;
    }
    const dueAt = this.#dueAt(now);
    if (dueAt > now) {
      // Only runs waiting for their start time: no job code runs for them yet, and the worker does not beat
      // (worker-vitals.ts). Silence counts from the last read before the first is due.
      this.#vitals.rest(now);
      return dueAt;
    }
    const blocked = this.#vitals.stalledFor(now) > BLOCKED_MS;
    if (blocked !== this.#blocked) this.#setBlocked(blocked);
    return now;
  }

  /** When its first run is due (see #dueAt), read without inspecting the worker. */
  firstDueAt(now: number): number {
    return this.#state === 'ready' ? this.#dueAt(now) : Infinity;
  }

  /**
   * When its first run is due: `now` when one is (it has no start time or its time has come; most often the first
   * one looked at), else the earliest start time of the runs it holds (Infinity for none).
   */
  #dueAt(now: number): number {
    let first = Infinity;
    for (const run of this.#runs.values()) {
      if (run.dueAt <= now) return now;
      if (run.dueAt < first) first = run.dueAt;
    }
    return first;
  }

  /** `made`: the start item already serialised (startItem); made here when absent. */
  start(run: ThreadRun, hooks: RunHooks, settle: S, made?: StartItem): void {
    let item: StartItem;
    try {
      item = made ?? startItem(run);
    } catch (err) {
      const message = `the run could not be sent to its worker: ${serializeError(err).message}`;
      settle.reject(Object.assign(new Error(message), { code: LOST_RUN_CODES.unsendable }));
      return;
    }
    // A worker that held no runs may have stopped its heartbeat: its silence counts from now.
    if (this.#runs.size === 0) this.#vitals.rest(Date.now());
    const slot = this.#vitals.assign();
    this.#runs.set(run.runId, { hooks, settle, slot, dueAt: run.notBefore ?? 0 });
    const target = item.target;
    if (target && !this.#targets.has(target.id)) {
      if (this.#targets.size >= MAX_TARGETS) {
        this.#outbox.push('{"type":"forget"}');
        this.#targets.clear();
      }
      this.#targets.add(target.id);
      this.#outbox.push(target.json);
    }
    // The claim goes first: the rest of the item is the text made ahead, unchanged (`{` is its first character).
    this.#outbox.push(`{"slot":${slot},"seq":${this.#vitals.seqOf(slot)},${item.json.slice(1)}`);
  }

  /** Sends the batch collected so far. */
  flush(): void {
    if (this.#state !== 'ended') this.#outbox.flush();
  }

  has(runId: string): boolean {
    return this.#runs.has(runId);
  }

  /** Tells the run's job (its ctx.signal). */
  abort(runId: string, reason: string): void {
    if (this.#runs.has(runId)) this.#outbox.push(JSON.stringify({ type: 'abort', runId, reason } satisfies PoolHostItem));
  }

  /** Stops run `runId` the hard way: terminates the worker; the other runs on it are lost (WORKER_RESTARTED). */
  kill(runId: string): void {
    if (this.#runs.has(runId)) this.#finish({ kind: 'killed', runId });
  }

  /** Ends the worker now; runs in flight are lost as closed. */
  terminate(): Promise<void> {
    this.#finish({ kind: 'closed' });
    return this.exited;
  }

  #listen(): void {
    const worker = this.#worker;
    worker.stdout.resume();
    worker.stderr.resume();
    worker.on('message', (message: unknown) => {
      // Job code can post on the worker's port, so what arrives is read, never trusted (thread-read.ts).
      const read = readPoolWorkerMessage(message);
      if (typeof read === 'string') this.#finish({ kind: 'unreadable', why: read });
      else if (read.type === 'batch') this.#onBatch(read.items);
      else if (this.#state === 'starting') {
        this.#state = 'ready';
        this.#everReady = true;
        this.#options.onChange(this);
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.#finish({ kind: 'out-of-memory', memoryLimitMb: this.#options.memoryLimitMb, detail: err.message, culprit: null });
      } else this.#finish({ kind: 'crashed', error: serializeError(err), culprit: null });
    });
    worker.on('exit', (exitCode) => this.#finish({ kind: 'exited', exitCode, culprit: null }));
  }

  #onBatch(items: readonly unknown[]): void {
    let ended = false;
    for (const raw of items) {
      const item = readPoolWorkerItem(raw);
      if (item.type === 'unreadable') {
        // An item that names no run may have been anyone's result: only ending the worker ends all its runs.
        if (item.runId === null) return this.#finish({ kind: 'unreadable', why: item.why });
        ended = this.#failRun(item.runId, item.why, item.code) || ended;
        continue;
      }
      try {
        ended = this.#onItem(item) || ended;
      } catch (err) {
        // The hooks belong to dispatch; a throw there must not take down the host or the rest of the batch.
        this.#options.logger.warn('a thread run hook failed', { runId: item.runId, err: String(err) });
      }
    }
    // The memory figure comes with every batch too: a run that ends holding Buffers is seen at once.
    if (this.#overLimit()) return;
    if (ended) this.#options.onChange(this);
  }

  /** Ends the worker when its heap and external memory passed its limit; true when it did. */
  #overLimit(): boolean {
    const usedMb = this.#vitals.memoryMb;
    if (usedMb <= this.#options.memoryLimitMb) return false;
    this.#vitals.noteMemory();
    this.#finish({ kind: 'memory-limit', memoryLimitMb: this.#options.memoryLimitMb, usedMb: Math.round(usedMb), culprit: null });
    return true;
  }

  #setBlocked(blocked: boolean): void {
    this.#blocked = blocked;
    if (blocked) {
      const unstarted = this.#takeBackUnstarted();
      this.#options.logger.warn('thread worker blocked: it gets no new runs until it answers again', {
        stalledMs: BLOCKED_MS,
        runsInFlight: this.#runs.size,
        runsMoved: unstarted.length,
      });
      if (unstarted.length > 0) this.#options.onUnstarted(this, unstarted);
    }
    this.#options.onChange(this);
  }

  /** Takes back every run the worker has not started (it never will now): they leave this worker. */
  #takeBackUnstarted(): S[] {
    const unstarted: S[] = [];
    for (const [runId, run] of this.#runs) {
      if (!this.#vitals.revoke(run.slot)) continue;
      this.#runs.delete(runId);
      unstarted.push(run.settle);
    }
    return unstarted;
  }

  /** A run whose items cannot be read ends FAILED now, saying why; its job is told to stop (its later items are dropped). */
  #failRun(runId: string, why: string, code?: string): boolean {
    const run = this.#runs.get(runId);
    if (!run) return false;
    this.abort(runId, 'its outcome could not be read');
    this.#runs.delete(runId);
    this.#vitals.release(run.slot);
    run.settle.resolve({ ok: false, error: unreadableRunError(why, code) });
    return true;
  }

  /** True when the item ended a run. */
  #onItem(item: PoolWorkerItem): boolean {
    const run = this.#runs.get(item.runId);
    if (item.type === 'result') {
      if (!run) return false;
      this.#runs.delete(item.runId);
      this.#vitals.release(run.slot);
      if (item.startedAt !== undefined) run.hooks.started?.(item.startedAt);
      run.settle.resolve(item.result);
      return true;
    }
    if (item.type === 'log') run?.hooks.log(item.level, item.message);
    else if (!run) this.#reply({ type: 'cache-reply', id: item.id, ok: false, error: { name: 'Error', message: 'the run has ended' } });
    else {
      const id = item.id;
      callCache(item.request, run.hooks.cache).then(
        (value) => this.#reply({ type: 'cache-reply', id, ok: true, value }),
        (err: unknown) => this.#reply({ type: 'cache-reply', id, ok: false, error: serializeError(err) }),
      );
    }
    return false;
  }

  #reply(item: PoolHostItem): void {
    if (this.#state === 'ended') return;
    let json: string;
    try {
      json = JSON.stringify(item);
    } catch (err) {
      if (item.type !== 'cache-reply' || !item.ok) throw err;
      json = JSON.stringify({ type: 'cache-reply', id: item.id, ok: false, error: serializeError(err) } satisfies PoolHostItem);
    }
    this.#outbox.push(json);
  }

  /**
   * Runs the worker had not started are taken back before it is terminated (so it cannot start them on its way out)
   * and handed to the pool, unless the pool is closing; the others are lost, the culprit's with its own error.
   */
  #finish(end: WorkerEnd): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#outbox.discard();
    const unstarted = end.kind === 'closed' ? [] : this.#takeBackUnstarted();
    const started = [...this.#runs];
    this.#runs.clear();
    const memory = end.kind === 'memory-limit' || end.kind === 'out-of-memory' ? end.memoryLimitMb : undefined;
    const culprit = end.kind === 'killed' ? end.runId : culpritOf(this.#vitals, started, memory);
    this.#end = 'culprit' in end ? { ...end, culprit } : end;
    for (const [runId, run] of started) run.settle.reject(lostRunError(this.#end, runId, started.length));
    if (unstarted.length > 0) this.#options.onUnstarted(this, unstarted);
    if (end.kind !== 'exited') {
      void this.#worker.terminate().catch((err: unknown) => this.#options.logger.warn('thread worker did not terminate', { err: String(err) }));
    }
    if (end.kind !== 'closed' && end.kind !== 'killed') {
      this.#options.logger.warn('thread worker ended', { end: end.kind, culprit, lostRuns: started.length, runsMoved: unstarted.length });
    }
    this.#options.onChange(this);
  }
}
