/**
 * The host's handle on one worker of a thread pool: the runs in flight on it and the batches to and from it.
 * States: starting → ready → ended. A worker serves many runs at once; whatever ends it (a kill, running out of
 * memory, process.exit, an uncaught error, close), every run still in flight on it is rejected with the reason.
 */
import type { Worker } from 'node:worker_threads';
import { serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { killGroupsOnExit } from './child-groups.js';
import type { RunHooks } from './executor.js';
import { startWorkerFile } from './module-thread.js';
import type { PoolHostItem, PoolHostMessage, PoolWorkerData, PoolWorkerItem, ThreadRun, ThreadTaskResult } from './protocol.js';
import { callCache } from './run-port.js';
import { LOST_RUN_CODES, lostRunError, type WorkerEnd } from './thread-errors.js';
import { Outbox } from './thread-outbox.js';
import { readPoolWorkerItem, readPoolWorkerMessage, unreadableRunError } from './wire-read.js';

/**
 * Items per host → worker message. A burst is sent in slices so the worker starts on the first runs while the host
 * is still handing out the rest (2 cores: the host and the workers run in parallel).
 */
const MAX_BATCH = 64;

/** A run's start item as the worker gets it, serialised; throws for what JSON cannot carry (a BigInt). */
export function startItemJson(run: ThreadRun): string {
  return JSON.stringify({ type: 'start', run } satisfies PoolHostItem);
}

/** Where a run's end is reported (the pool's ticket of the run). */
export interface RunSettle {
  resolve(result: ThreadTaskResult): void;
  reject(err: Error): void;
}

interface InFlight {
  readonly hooks: RunHooks;
  readonly settle: RunSettle;
}

export interface WorkerHandleOptions {
  readonly data: PoolWorkerData;
  readonly env: Readonly<Record<string, string>>;
  readonly memoryLimitMb: number;
  readonly logger: Logger;
  /** The worker became ready, runs on it ended, or it ended itself: the pool re-plans. */
  readonly onChange: (handle: WorkerHandle) => void;
}

export class WorkerHandle {
  #state: 'starting' | 'ready' | 'ended' = 'starting';
  #end: WorkerEnd | null = null;
  #everReady = false;
  readonly #runs = new Map<string, InFlight>();
  readonly #worker: Worker;
  /** Items as JSON texts: a planned run's start item is serialised when it is prepared, not at its fire time. */
  readonly #outbox: Outbox;
  readonly #options: WorkerHandleOptions;
  /** Resolves once the thread is gone. */
  readonly exited: Promise<void>;

  constructor(options: WorkerHandleOptions) {
    this.#options = options;
    this.#worker = startWorkerFile(import.meta.url, 'thread-worker', {
      workerData: options.data,
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

  /** `startJson`: the start item already serialised (startItemJson); made here when absent. */
  start(run: ThreadRun, hooks: RunHooks, settle: RunSettle, startJson?: string): void {
    let json: string;
    try {
      json = startJson ?? startItemJson(run);
    } catch (err) {
      const message = `the run could not be sent to its worker: ${serializeError(err).message}`;
      settle.reject(Object.assign(new Error(message), { code: LOST_RUN_CODES.unsendable }));
      return;
    }
    this.#runs.set(run.runId, { hooks, settle });
    this.#outbox.push(json);
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
      // Job code can post on the worker's port, so what arrives is read, never trusted (wire-read.ts).
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
        this.#finish({ kind: 'out-of-memory', memoryLimitMb: this.#options.memoryLimitMb, detail: err.message });
      } else this.#finish({ kind: 'crashed', error: serializeError(err) });
    });
    worker.on('exit', (exitCode) => this.#finish({ kind: 'exited', exitCode }));
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
    if (ended) this.#options.onChange(this);
  }

  /** A run whose items cannot be read ends FAILED now, saying why; its job is told to stop (its later items are dropped). */
  #failRun(runId: string, why: string, code?: string): boolean {
    const run = this.#runs.get(runId);
    if (!run) return false;
    this.abort(runId, 'its outcome could not be read');
    this.#runs.delete(runId);
    run.settle.resolve({ ok: false, error: unreadableRunError(why, code) });
    return true;
  }

  /** True when the item ended a run. */
  #onItem(item: PoolWorkerItem): boolean {
    const run = this.#runs.get(item.runId);
    if (item.type === 'result') {
      if (!run) return false;
      this.#runs.delete(item.runId);
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

  #finish(end: WorkerEnd): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#end = end;
    this.#outbox.discard();
    const runs = [...this.#runs];
    this.#runs.clear();
    for (const [runId, run] of runs) run.settle.reject(lostRunError(end, runId, runs.length));
    if (end.kind !== 'exited') {
      void this.#worker.terminate().catch((err: unknown) => this.#options.logger.warn('thread worker did not terminate', { err: String(err) }));
    }
    if (end.kind !== 'closed' && end.kind !== 'killed') {
      this.#options.logger.warn('thread worker ended', { end: end.kind, lostRuns: runs.length });
    }
    this.#options.onChange(this);
  }
}
