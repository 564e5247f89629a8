/**
 * The host's handle on one module context: its worker, its boot, the runs in flight on it and how it ends.
 * States: booting → ready → stopping → ended (or → ended directly when it dies or is terminated). Whatever ends
 * the worker, every run still waiting on it is rejected with the reason.
 */
import { existsSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { HostError, serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { killGroupsOnExit } from './child-groups.js';
import type { ModuleHostMessage, ModuleWorkerData, ModuleWorkerMessage } from './module-protocol.js';
import type { ThreadTask, ThreadTaskResult } from './protocol.js';
import { clipText } from './wire-limits.js';
import { readModuleWorkerMessage, UNREADABLE_CODES, unreadableRunError } from './wire-read.js';

/** A chunk of a module worker's own stdout/stderr as the host logs it. */
const STDIO_CHUNK_MAX_CHARS = 4_096;

/**
 * Starts a worker from a file next to `base`: compiled, `<name>.js`; from source (tests under tsx), `<name>.ts`
 * through a small eval'd bootstrap, because tsx on Node 20 registers its hooks on the main thread only.
 */
export function startWorkerFile(base: string, name: string, options: WorkerOptions): Worker {
  const compiled = new URL(`./${name}.js`, base);
  if (existsSync(compiled)) return new Worker(compiled, options);
  const source = new URL(`./${name}.ts`, base).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

type State = 'booting' | 'ready' | 'stopping' | 'ended';

interface Pending {
  resolve(result: ThreadTaskResult): void;
  reject(err: Error): void;
}

export interface ModuleThreadOptions {
  readonly data: ModuleWorkerData;
  readonly env: Readonly<Record<string, string>>;
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

  constructor(opts: ModuleThreadOptions) {
    this.memoryLimitMb = opts.memoryLimitMb;
    this.#logger = opts.logger;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = (err) => (err ? reject(err) : resolve());
    });
    // Runs' code awaits this, but a context nobody waits for must not become an unhandled rejection.
    this.ready.catch(() => {});
    this.#worker = startWorkerFile(import.meta.url, 'module-worker', {
      workerData: opts.data,
      resourceLimits: { maxOldGenerationSizeMb: opts.memoryLimitMb },
      env: { ...opts.env },
      stdout: true,
      stderr: true,
    });
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    killGroupsOnExit(this.#worker);
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

  /** Runs a task on the context; rejects when the worker ends before the run does. */
  run(task: ThreadTask): Promise<ThreadTaskResult> {
    if (this.#state !== 'ready') return Promise.reject(this.#endReason ?? new Error(`module context is ${this.#state}`));
    return new Promise<ThreadTaskResult>((resolve, reject) => {
      this.#pending.set(task.runId, { resolve, reject });
      const message: ModuleHostMessage = { type: 'run', task };
      this.#worker.postMessage(message, [task.port]);
    });
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

  /** Ends the worker now; runs in flight reject with `reason`. */
  async terminate(reason: Error): Promise<void> {
    this.#end(reason);
    await this.#exited;
  }

  #listen(): void {
    const worker = this.#worker;
    worker.on('message', (message: unknown) => {
      // Beans can post on the worker's port, so what arrives is read, never trusted (wire-read.ts).
      const read = readModuleWorkerMessage(message);
      if (read.type !== 'unreadable') this.#onMessage(read);
      else if (read.runId !== null) this.#failRun(read.runId, read.why, read.code);
      else {
        const reason = `the module context's worker sent a message the host could not read (${read.why}), so it was ended`;
        this.#end(Object.assign(new Error(reason), { code: UNREADABLE_CODES.worker }));
      }
    });
    worker.on('error', (err: Error & { code?: string }) => this.#end(this.#crashError(err)));
    worker.on('exit', (code) => this.#end(new Error(`module context worker exited with code ${code}`)));
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
      case 'result':
        this.#pending.get(message.runId)?.resolve(message.result);
        this.#pending.delete(message.runId);
        break;
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

  #crashError(err: Error & { code?: string }): Error {
    if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return Object.assign(new Error(`module context exceeded its memory limit of ${this.memoryLimitMb} MB (${err.message})`), { code: err.code });
    }
    const error = serializeError(err);
    return Object.assign(new Error(`module context worker failed: ${error.name}: ${error.message}`), { code: error.code });
  }

  #end(reason: Error): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#endReason = reason;
    this.#markReady(reason);
    this.#stopped();
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
    void this.#worker.terminate().catch((err: unknown) => this.#logger.warn('module worker did not terminate', { err: String(err) }));
  }
}
