/**
 * Inside a module worker (and the introspection worker): builds a module's context from its definition. Every bean
 * is built eagerly, once; a factory asks for the beans it needs through ctx.get, and a wait-for graph catches
 * cycles even when factories ask for several beans at once. Every failure names the bean.
 */
import type { BeanDefinition, BeanFactory, JobLogger, ModuleContext, ModuleDefinition } from '@jobcenter/job-api';

/** A failure to build the context; `bean` names the bean concerned (absent for the hooks). */
export class ModuleBootError extends Error {
  readonly code = 'MODULE_BOOT_FAILED';
  constructor(
    message: string,
    readonly bean?: string,
  ) {
    super(message);
    this.name = 'ModuleBootError';
  }
}

export interface BootedModule {
  /** Bean values in build order. */
  readonly beans: ReadonlyMap<string, unknown>;
  readonly context: ModuleContext;
  /** onStop, then the disposers in reverse build order; each failure is logged, none stops the others. */
  stop(): Promise<void>;
}

/** The module definition a main module default-exports (or sets as module.exports); throws saying what is wrong. */
export function moduleDefinitionOf(namespace: Record<string, unknown>): ModuleDefinition {
  const def = namespace.default;
  const beans = typeof def === 'object' && def !== null ? (def as { beans?: unknown }).beans : undefined;
  if (typeof beans !== 'object' || beans === null || Array.isArray(beans)) {
    throw new ModuleBootError('the main module of a module bundle must default-export a module definition (defineModule({ beans: {…} }))');
  }
  return def as ModuleDefinition;
}

/** Builds every bean (in declaration order, each once), then calls onStart. Rejects with a ModuleBootError. */
export async function bootModule(def: ModuleDefinition, opts: { config: Readonly<Record<string, string>>; log: JobLogger }): Promise<BootedModule> {
  const graph = new BeanGraph(def, opts);
  for (const name of Object.keys(def.beans)) await graph.get(name, null);
  const context = graph.contextFor(null);
  const stop = () => stopModule(def, context, graph.built, opts.log);
  try {
    await def.onStart?.(context);
  } catch (err) {
    await stop();
    throw new ModuleBootError(`onStart failed: ${messageOf(err)}`);
  }
  return { beans: graph.built, context, stop };
}

async function stopModule(def: ModuleDefinition, context: ModuleContext, built: ReadonlyMap<string, unknown>, log: JobLogger): Promise<void> {
  try {
    await def.onStop?.(context);
  } catch (err) {
    log.error('onStop failed: %s', messageOf(err));
  }
  for (const [name, value] of [...built].reverse()) {
    const bean = def.beans[name];
    if (typeof bean !== 'object' || typeof bean.dispose !== 'function') continue;
    try {
      await bean.dispose(value);
    } catch (err) {
      log.error('disposer of bean "%s" failed: %s', name, messageOf(err));
    }
  }
}

class BeanGraph {
  readonly built = new Map<string, unknown>();
  readonly #building = new Map<string, Promise<unknown>>();
  /** requester → the beans its factory is waiting for right now. */
  readonly #waits = new Map<string, Set<string>>();
  readonly #def: ModuleDefinition;
  readonly #opts: { config: Readonly<Record<string, string>>; log: JobLogger };

  constructor(def: ModuleDefinition, opts: { config: Readonly<Record<string, string>>; log: JobLogger }) {
    this.#def = def;
    this.#opts = opts;
  }

  /** The context handed to `requester`'s factory (null: the hooks and the boot loop). */
  contextFor(requester: string | null): ModuleContext {
    return Object.freeze({
      config: this.#opts.config,
      log: this.#opts.log,
      get: <T>(bean: string) => this.get(bean, requester) as Promise<T>,
    });
  }

  async get(name: string, requester: string | null): Promise<unknown> {
    if (this.built.has(name)) return this.built.get(name);
    if (!Object.prototype.hasOwnProperty.call(this.#def.beans, name)) {
      const who = requester === null ? 'the module' : `bean "${requester}"`;
      throw new ModuleBootError(`${who} needs bean "${name}", which is not defined`, requester ?? name);
    }
    if (requester === null) return this.#start(name);
    const cycle = this.#pathTo(name, requester);
    if (cycle) throw new ModuleBootError(`dependency cycle: ${[requester, ...cycle].join(' → ')}`, requester);
    const waits = this.#waits.get(requester) ?? new Set<string>();
    this.#waits.set(requester, waits.add(name));
    try {
      return await this.#start(name);
    } finally {
      waits.delete(name);
    }
  }

  /** The chain of waits from `from` to `to` (both included), or null: asking `from` would then close a cycle. */
  #pathTo(from: string, to: string, seen = new Set<string>()): string[] | null {
    if (from === to) return [from];
    if (seen.has(from)) return null;
    seen.add(from);
    for (const next of this.#waits.get(from) ?? []) {
      const rest = this.#pathTo(next, to, seen);
      if (rest) return [from, ...rest];
    }
    return null;
  }

  #start(name: string): Promise<unknown> {
    let building = this.#building.get(name);
    if (!building) {
      building = this.#build(name);
      this.#building.set(name, building);
    }
    return building;
  }

  async #build(name: string): Promise<unknown> {
    const bean = this.#def.beans[name] as BeanFactory | BeanDefinition;
    const factory = typeof bean === 'function' ? bean : bean?.factory;
    if (typeof factory !== 'function') throw new ModuleBootError(`bean "${name}" has no factory function`, name);
    let value: unknown;
    try {
      value = await factory(this.contextFor(name));
    } catch (err) {
      // A dependency's failure already names the bean at its root; wrapping it again would hide that.
      if (err instanceof ModuleBootError) throw err;
      throw new ModuleBootError(`bean "${name}" failed to build: ${messageOf(err)}`, name);
    }
    this.built.set(name, value);
    return value;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
