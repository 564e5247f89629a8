/**
 * The host's handle on one module context: its worker, its boot, the runs in flight on it and how it ends.
 * States: booting → ready → stopping → ended (or → ended directly when it dies or is terminated). Its vitals
 * (vitals.ts) are read every WATCH_MS while runs are in flight: a blocked context hands back the runs it had not
 * started (they reject with RUN_NOT_STARTED, and the executor runs them on another context), and heap plus Buffers
 * over the memory limit ends it. When a run ends the worker (a kill, its memory, process.exit, a crash), the runs
 * that had not started reject with RUN_NOT_STARTED, the culprit with the reason, the other started runs with
 * MODULE_RESTARTED naming it; any other end rejects every run with the reason.
 */
import type { Worker } from 'node:worker_threads';
import { HostError, serializeError } from '../../errors/index.js';
import type { Logger } from '../../log/logger.js';
import type { ModuleBoot, ModuleHostMessage, ModuleWorkerMessage } from './module-protocol.js';
import type { BlankWorker } from './module-spares.js';
import type { ThreadTask, ThreadTaskResult } from '../shared/run-protocol.js';
import { culpritOf, NO_SLOT, WATCH_MS, BLOCKED_MS, WorkerVitals } from '../shared/vitals.js';
import { clipText } from '../shared/wire-limits.js';
import { UNREADABLE_CODES, unreadableRunError } from '../shared/wire-read.js';
import { readModuleWorkerMessage } from './module-read.js';

/** A chunk of a module worker's own stdout/stderr as the host logs it. */
const STDIO_CHUNK_MAX_CHARS = 4_096;

/** Codes of the runs a module context loses when it ends. */
export const MODULE_LOST_CODES = {
  /** Handed back unstarted: the run goes to another context. */
  notStarted: 'RUN_NOT_STARTED',
  /** Started, and lost because another run ended the context: interrupted. */
  restarted: 'MODULE_RESTARTED',
} as const;

type State = 'booting' | 'ready' | 'stopping' | 'ended';

interface Pending {
  resolve(result: ThreadTaskResult): void;
  reject(err: Error): void;
  readonly slot: number;
}

export interface ModuleThreadOptions {
  readonly data: ModuleBoot;
  /** A started module worker, not booted yet (module-spares.ts), whose heap limit is memoryLimitMb. */
  readonly worker: BlankWorker;
  readonly memoryLimitMb: number;
  /** Limit on building the context (a factory that never resolves must not hold runs forever). */
  readonly bootTimeoutMs: number;
  /** The module's lifecycle log (ctx.log of factories and hooks). */
  readonly logger: Logger;
}

export class ModuleThread {
  readonly memoryLimitMb: number;
  /** Resolves when the context is built; rejects with the reason it could not be. */
  readonly ready: Promise<void>;
  #state: State = 'booting';
  readonly #worker: Worker;
  readonly #pending = new Map<string, Pending>();
  readonly #logger: Logger;
  #endReason: Error | null = null;
  #markReady: (err?: Error) => void = () => {};
  #stopped: () => void = () => {};
  #stopping: Promise<void> | null = null;
  readonly #exited: Promise<void>;
  readonly #vitals: WorkerVitals;
  #watch: NodeJS.Timeout | null = null;
  #blocked = false;

  constructor(opts: ModuleThreadOptions) {
    this.memoryLimitMb = opts.memoryLimitMb;
    this.#logger = opts.logger;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = (err) => (err ? reject(err) : resolve());
    });
    // Runs' code awaits this, but a context nobody waits for must not become an unhandled rejection.
    this.ready.catch(() => {});
    this.#worker = opts.worker.worker;
    this.#vitals = opts.worker.vitals;
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ type: 'boot', data: opts.data } satisfies ModuleHostMessage);
    this.#listen();
    const timer = setTimeout(() => {
      if (this.#state === 'booting') this.#end(new HostError('UNPROCESSABLE', `module context did not start within ${opts.bootTimeoutMs} ms`));
    }, opts.bootTimeoutMs);
    void this.ready.finally(() => clearTimeout(timer)).catch(() => {});
  }

  get state(): State {
    return this.#state;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** Its event loop was stuck for BLOCKED_MS with runs in flight: new runs should go to another context. */
  get blocked(): boolean {
    return this.#blocked && this.#state !== 'ended';
  }

  /** Runs a task on the context; rejects when the worker ends before the run does. */
  run(task: ThreadTask): Promise<ThreadTaskResult> {
    if (this.#state !== 'ready') return Promise.reject(this.#endReason ?? new Error(`module context is ${this.#state}`));
    return new Promise<ThreadTaskResult>((resolve, reject) => {
      if (this.#pending.size === 0) this.#vitals.rest(Date.now());
      const slot = this.#vitals.assign();
      this.#pending.set(task.runId, { resolve, reject, slot });
      const message: ModuleHostMessage = { type: 'run', task, slot, seq: this.#vitals.seqOf(slot) };
      this.#worker.postMessage(message, [task.port]);
      if (!this.#watch) {
        this.#watch = setInterval(() => this.#inspect(), WATCH_MS);
        this.#watch.unref();
      }
    });
  }

  /** Ends a context over its memory limit; marks it blocked (handing back unstarted runs), or free again. */
  #inspect(): void {
    if (this.#state === 'ended') return;
    this.#vitals.noteMemory();
    if (this.#overLimit()) return;
    const now = Date.now();
    if (this.#pending.size === 0) {
      this.#vitals.rest(now);
      this.#blocked = false;
      clearInterval(this.#watch!);
      this.#watch = null;
      return;
    }
    const blocked = this.#vitals.stalledFor(now) > BLOCKED_MS;
    if (blocked === this.#blocked) return;
    this.#blocked = blocked;
    if (!blocked) return;
    let moved = 0;
    for (const [runId, pending] of [...this.#pending]) {
      if (!this.#vitals.revoke(pending.slot)) continue;
      this.#pending.delete(runId);
      pending.reject(notStarted('its module context was blocked'));
      moved++;
    }
    this.#logger.warn('module context blocked: new runs go to another context', { stalledMs: BLOCKED_MS, runsMoved: moved });
  }

  #overLimit(): boolean {
    const usedMb = this.#vitals.memoryMb;
    if (usedMb <= this.memoryLimitMb) return false;
    this.#vitals.noteMemory();
    const deed = `exceeded its memory limit of ${this.memoryLimitMb} MB: the context held ${Math.round(usedMb)} MB of heap and Buffers`;
    this.#end(Object.assign(new Error(`job ${deed}`), { code: 'ERR_WORKER_OUT_OF_MEMORY', deed }), null);
    return true;
  }

  /** onStop and disposers, within graceMs; then the worker is terminated either way. */
  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.#state === 'ready') {
      this.#state = 'stopping';
      const stopped = new Promise<void>((resolve) => (this.#stopped = resolve));
      this.#worker.postMessage({ type: 'stop' } satisfies ModuleHostMessage);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
      const overdue = await Promise.race([stopped.then(() => false), this.#exited.then(() => false), late]);
      clearTimeout(timer);
      if (overdue) this.#logger.warn('module onStop did not finish in time; its worker is terminated', { graceMs });
    }
    await this.terminate(new Error('module context stopped'));
  }

  /**
   * Ends the worker now; runs in flight reject with `reason`, or, when `culprit` names the run that made it
   * necessary, as #end says.
   */
  async terminate(reason: Error, culprit?: string): Promise<void> {
    this.#end(reason, culprit);
    await this.#exited;
  }

  #listen(): void {
    const worker = this.#worker;
    worker.on('message', (message: unknown) => {
      // Beans can post on the worker's port, so what arrives is read, never trusted (module-read.ts).
      const read = readModuleWorkerMessage(message);
      if (read.type !== 'unreadable') this.#onMessage(read);
      else if (read.runId !== null) this.#failRun(read.runId, read.why, read.code);
      else {
        const reason = `the module context's worker sent a message the host could not read (${read.why}), so it was ended`;
        this.#end(Object.assign(new Error(reason), { code: UNREADABLE_CODES.worker }));
      }
    });
    worker.on('error', (err: Error & { code?: string }) => this.#end(this.#crashError(err), this.#state === 'ready' ? null : undefined));
    worker.on('exit', (code) => {
      const deed = `called process.exit(${code})`;
      this.#end(Object.assign(new Error(`module context worker exited with code ${code}`), { deed }), this.#state === 'ready' ? null : undefined);
    });
    // The worker routes process.stdout/stderr to the run's log (worker-context.ts routeConsole); what still arrives
    // here went round that (the stream's prototype): kept short, so it cannot flood the host's log.
    worker.stdout.setEncoding('utf8').on('data', (text: string) => this.#logger.info('module wrote to stdout', { text: clipText(text, STDIO_CHUNK_MAX_CHARS) }));
    worker.stderr.setEncoding('utf8').on('data', (text: string) => this.#logger.warn('module wrote to stderr', { text: clipText(text, STDIO_CHUNK_MAX_CHARS) }));
  }

  #onMessage(message: ModuleWorkerMessage): void {
    switch (message.type) {
      case 'booted':
        if (this.#state !== 'booting') return;
        this.#state = 'ready';
        this.#logger.info('module context started', { jobs: message.jobs });
        this.#markReady();
        break;
      case 'boot-failed':
        this.#end(new HostError('UNPROCESSABLE', `module context failed to start: ${message.error.message}`));
        break;
      case 'result': {
        const pending = this.#pending.get(message.runId);
        if (!pending) break;
        this.#pending.delete(message.runId);
        this.#vitals.release(pending.slot);
        pending.resolve(message.result);
        this.#overLimit();
        break;
      }
      case 'log':
        this.#logger[message.level === 'trace' ? 'debug' : message.level](message.message);
        break;
      case 'stopped':
        this.#stopped();
        break;
    }
  }

  /** A run whose result cannot be read ends FAILED, saying why; the job's real result, if it comes, is dropped. */
  #failRun(runId: string, why: string, code?: string): void {
    this.#pending.get(runId)?.resolve({ ok: false, error: unreadableRunError(why, code) });
    this.#pending.delete(runId);
  }

  #blame(reason: Error & { deed?: string }, culprit: string | null, pending: [string, Pending][]): void {
    const started = pending.filter(([, run]) => run.slot === NO_SLOT || !this.#vitals.revoke(run.slot));
    for (const [runId, run] of pending) if (!started.some(([id]) => id === runId)) run.reject(notStarted('its module context was ended'));
    const memory = (reason as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? this.memoryLimitMb : undefined;
    const blamed = culprit ?? culpritOf(this.#vitals, started, memory);
    const deed = reason.deed ?? `had to be stopped (${reason.message})`;
    for (const [runId, run] of started) {
      if (runId === blamed) run.reject(reason);
      else if (blamed !== null) run.reject(lostTo(`module context terminated because run ${blamed} ${deed}`));
      else run.reject(lostTo(`module context terminated because a run on it ${deed}; which of the ${started.length} runs in flight on it did could not be told`));
    }
  }

  #crashError(err: Error & { code?: string }): Error {
    if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      const deed = `exceeded its memory limit of ${this.memoryLimitMb} MB (${err.message})`;
      return Object.assign(new Error(`module context ${deed}`), { code: err.code, deed });
    }
    const error = serializeError(err);
    const deed = `threw outside its run and ended the module context: ${error.name}: ${error.message}`;
    return Object.assign(new Error(`module context worker failed: ${error.name}: ${error.message}`), { code: error.code, deed });
  }

  /**
   * `culprit` undefined: every run rejects with `reason`. Otherwise a run ended the worker (null: which one is found
   * from the vitals, vitals.ts culpritOf): the runs that had not started are handed back (RUN_NOT_STARTED), the
   * culprit rejects with `reason`, the other started runs with MODULE_RESTARTED naming it.
   */
  #end(reason: Error & { deed?: string }, culprit?: string | null): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#endReason = reason;
    this.#markReady(reason);
    this.#stopped();
    if (this.#watch) clearInterval(this.#watch);
    const pending = [...this.#pending];
    this.#pending.clear();
    if (culprit === undefined) for (const [, run] of pending) run.reject(reason);
    else this.#blame(reason, culprit, pending);
    void this.#worker.terminate().catch((err: unknown) => this.#logger.warn('module worker did not terminate', { err: String(err) }));
  }
}

function notStarted(why: string): Error {
  return Object.assign(new Error(`the run had not started when ${why}`), { code: MODULE_LOST_CODES.notStarted });
}

function lostTo(message: string): Error {
  return Object.assign(new Error(message), { code: MODULE_LOST_CODES.restarted });
}
