/**
 * Boots a module definition (kind `module`) in-process for tests and `jobcenter-sdk run`: every bean built once,
 * eagerly, in declaration order (as the host does at upload and at start), `onStart` after, and `stop()` calling
 * `onStop` then the disposers in reverse build order.
 */
import type { BeanDefinition, BeanFactory, JobLogger, LogLevel, ModuleContext, ModuleDefinition, PJob, PJobResolver } from '@jobcenter/job-api';
import { format } from 'node:util';
import { runLocal, type LocalRunResult, type LogLine, type RunLocalOptions } from './local.js';

/** A bean that is missing, in a cycle or whose factory threw; the message names the bean. */
export class BeanError extends Error {
  readonly code = 'MODULE_BEAN';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BeanError';
  }
}

export interface LocalModuleOptions {
  /** The module's config (what the host reads from config/application.properties); `{}` when absent. */
  readonly config?: Readonly<Record<string, string>>;
  /** Called for each lifecycle log line (bean factories, onStart, onStop). */
  readonly onLog?: (line: LogLine) => void;
}

export interface LocalModule {
  /** A bean by name (already built). */
  get<T = unknown>(bean: string): Promise<T>;
  /** Runs the job bean `bean` once with {@link runLocal}. */
  run<P = unknown>(bean: string, opts?: RunLocalOptions<P>): Promise<LocalRunResult>;
  /** Lifecycle log lines so far. */
  readonly logs: LogLine[];
  /** Calls onStop, then the disposers in reverse build order. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Builds the module's context the way the host does and returns it; call `stop()` when done.
 *
 * @example
 * ```ts
 * import { startModuleLocal } from '@jobcenter/sdk';
 * import app from '../src/index.js';
 * const mod = await startModuleLocal(app, { config: { 'repo.size': '3' } });
 * try {
 *   console.log((await mod.run('countJob')).result);
 * } finally {
 *   await mod.stop();
 * }
 * ```
 */
export async function startModuleLocal(def: ModuleDefinition, opts: LocalModuleOptions = {}): Promise<LocalModule> {
  if (typeof def !== 'object' || def === null || typeof def.beans !== 'object' || def.beans === null) {
    throw new TypeError('startModuleLocal expects a module definition: an object with a "beans" map (see defineModule)');
  }
  const logs: LogLine[] = [];
  const log = logger(logs, opts.onLog);
  const built = new Map<string, unknown>();
  const order: string[] = [];
  const building: string[] = [];
  const ctx: ModuleContext = Object.freeze({ config: Object.freeze({ ...(opts.config ?? {}) }), get: buildBean, log });

  async function buildBean<T>(name: string): Promise<T> {
    if (built.has(name)) return built.get(name) as T;
    const entry = (def.beans as Record<string, BeanFactory | BeanDefinition | undefined>)[name];
    if (entry === undefined) throw new BeanError(`bean "${name}" is not defined${building.length ? ` (needed by "${building.at(-1)}")` : ''}`);
    if (building.includes(name)) throw new BeanError(`bean dependency cycle: ${[...building, name].join(' -> ')}`);
    building.push(name);
    try {
      const factory = typeof entry === 'function' ? entry : entry.factory;
      const value = await factory(ctx);
      built.set(name, value);
      order.push(name);
      return value as T;
    } catch (err) {
      // The innermost failing bean names the cause; the beans that needed it pass its error on unchanged.
      if (err instanceof BeanError) throw err;
      throw new BeanError(`bean "${name}" failed to build: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      building.pop();
    }
  }

  for (const name of Object.keys(def.beans)) await buildBean(name);
  await def.onStart?.(ctx);
  let stopped = false;
  return {
    logs,
    get: async <T>(name: string) => {
      if (!built.has(name)) throw new Error(`bean "${name}" is not defined`);
      return built.get(name) as T;
    },
    run: async <P>(name: string, runOpts?: RunLocalOptions<P>) => runLocal(jobBean<P>(built, name), runOpts),
    async stop() {
      if (stopped) return;
      stopped = true;
      await def.onStop?.(ctx);
      for (const name of [...order].reverse()) {
        const entry = (def.beans as Record<string, BeanFactory | BeanDefinition>)[name];
        if (typeof entry !== 'function') await entry.dispose?.(built.get(name));
      }
    },
  };
}

/**
 * Boots the module, runs one job bean once, and stops the module (also when the run fails).
 *
 * @example
 * ```ts
 * import { runModuleLocal } from '@jobcenter/sdk';
 * import app from '../src/index.js';
 * const { result } = await runModuleLocal(app, 'countJob', { params: { min: 2 } });
 * ```
 */
export async function runModuleLocal<P = unknown>(
  def: ModuleDefinition,
  bean: string,
  opts: RunLocalOptions<P> & { readonly moduleConfig?: Readonly<Record<string, string>> } = {},
): Promise<LocalRunResult> {
  const mod = await startModuleLocal(def, { config: opts.moduleConfig, onLog: opts.onLog });
  try {
    return await mod.run(bean, opts);
  } finally {
    await mod.stop();
  }
}

/** A resolver bean runs as a job whose result is its specs as JSON, so a local run shows what it would create. */
function jobBean<P>(built: Map<string, unknown>, name: string): PJob<P> {
  const bean = built.get(name) as Partial<PJob<P> & PJobResolver<P>> | undefined;
  if (bean && typeof bean.execute === 'function') return bean as PJob<P>;
  if (bean && typeof bean.resolve === 'function') {
    const resolver = bean as PJobResolver<P>;
    return { execute: async (ctx) => JSON.stringify(await resolver.resolve(ctx)) };
  }
  throw new Error(`bean "${name}" is not a job: it has no execute(ctx) or resolve(ctx) method`);
}

function logger(logs: LogLine[], onLog?: (line: LogLine) => void): JobLogger {
  const write = (level: LogLevel, message: string, args: unknown[]): void => {
    const line: LogLine = { level, message: format(message, ...args), at: new Date() };
    logs.push(line);
    onLog?.(line);
  };
  return {
    trace: (m, ...a) => write('trace', m, a),
    debug: (m, ...a) => write('debug', m, a),
    info: (m, ...a) => write('info', m, a),
    warn: (m, ...a) => write('warn', m, a),
    error: (m, ...a) => write('error', m, a),
  };
}
