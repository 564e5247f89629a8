/**
 * The messages between the module executor (host) and a module context's worker, on the worker's own port. Both
 * sides import this file. A run itself travels as a ThreadTask with its own MessagePort (see protocol.ts): log
 * lines, console output, cache requests and the abort use the same per-run channel as the thread executor.
 */
import type { LogLevel } from '@jobcenter/job-api';
import type { SerializedError } from '../../errors/index.js';
import type { ThreadTask, ThreadTaskResult } from '../shared/run-protocol.js';

/** Which bundle version a module worker boots, for which profile: its first message ('boot'). */
export interface ModuleBoot {
  /** file: URL of the bundle's main module. */
  readonly mainUrl: string;
  /** The extracted bundle folder (its config/application.properties is the module's config). */
  readonly bundleDir: string;
  /** The job profile this context serves: application-<profile>.properties overlays the module's config. */
  readonly profile: string | null;
}

/**
 * workerData of a module worker. It carries no bundle: a worker starts blank and boots a bundle when told to, so one
 * can be started ahead of need (module-spares.ts) and adopted by whichever context needs it next.
 */
export interface ModuleWorkerData {
  /** The worker's vitals (vitals.ts), taken out by its bootstrap before any bundle loads. */
  readonly vitals?: SharedArrayBuffer;
}

/** Host → module worker. */
export type ModuleHostMessage =
  /** Import the bundle's main and build its context (the first message; a worker boots once). */
  | { readonly type: 'boot'; readonly data: ModuleBoot }
  /** Run the bean named task.entry; task.port was transferred with the message. `slot`/`seq`: its claim (vitals.ts). */
  | { readonly type: 'run'; readonly task: ThreadTask; readonly slot: number; readonly seq: number }
  /** Call onStop and the disposers, then answer 'stopped' (the host terminates the worker after that). */
  | { readonly type: 'stop' };

/** Module worker → host. */
export type ModuleWorkerMessage =
  /** The context is built and onStart returned; `jobs` are the beans that can be run. */
  | { readonly type: 'booted'; readonly jobs: readonly string[] }
  | { readonly type: 'boot-failed'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly runId: string; readonly result: ThreadTaskResult }
  /** A line of the module's lifecycle log (ctx.log of factories and hooks, console outside runs): the host log. */
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string }
  | { readonly type: 'stopped' };
