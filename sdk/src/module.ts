/**
 * `defineModule`: declares a `module` bundle's context (spring-boot-like beans with lifecycle hooks).
 */
import type { BeanDefinition, BeanFactory, ModuleDefinition } from '@jobcenter/job-api';

/** The mark the host reads to tell a definition made here from any other default export. */
export const MODULE_MARK = '__jobcenterModule';

/**
 * Declares a module: named beans built once per loaded bundle version (singletons shared by every run), an
 * `onStart` after they are all built and an `onStop` before the context closes. Beans with `execute` or `resolve`
 * are jobs whose `entry` is the bean name. Default-export the result from the bundle's main module.
 * Throws a TypeError naming the bean when the shape is wrong; returns the definition, marked.
 *
 * @example
 * ```ts
 * import { defineModule, type PJob } from '@jobcenter/sdk';
 * class Repository { rows = ['a', 'b']; async count() { return this.rows.length; } }
 * export default defineModule({
 *   beans: {
 *     repository: { factory: () => new Repository(), dispose: (repo: Repository) => { repo.rows = []; } },
 *     countRows: async (ctx): Promise<PJob> => {
 *       const repo = await ctx.get<Repository>('repository');
 *       return { execute: async () => `rows: ${await repo.count()}` };
 *     },
 *   },
 *   onStart: (ctx) => ctx.log.info('module started'),
 *   onStop: (ctx) => ctx.log.info('module stopping'),
 * });
 * ```
 */
export function defineModule<D extends ModuleDefinition>(def: D): D {
  if (typeof def !== 'object' || def === null) throw new TypeError('defineModule needs an object with a "beans" map');
  const beans: unknown = def.beans;
  if (typeof beans !== 'object' || beans === null || Array.isArray(beans)) {
    throw new TypeError('defineModule: "beans" must be an object mapping bean names to factories');
  }
  for (const [name, bean] of Object.entries(beans)) checkBean(name, bean);
  for (const hook of ['onStart', 'onStop'] as const) {
    if (def[hook] !== undefined && typeof def[hook] !== 'function') throw new TypeError(`defineModule: "${hook}" must be a function`);
  }
  if (!Object.prototype.hasOwnProperty.call(def, MODULE_MARK)) {
    Object.defineProperty(def, MODULE_MARK, { value: true, enumerable: false });
  }
  return def;
}

function checkBean(name: string, bean: unknown): asserts bean is BeanFactory | BeanDefinition {
  if (typeof bean === 'function') return;
  if (typeof bean === 'object' && bean !== null && typeof (bean as BeanDefinition).factory === 'function') {
    const dispose = (bean as BeanDefinition).dispose;
    if (dispose === undefined || typeof dispose === 'function') return;
    throw new TypeError(`defineModule: bean "${name}" has a "dispose" that is not a function`);
  }
  throw new TypeError(`defineModule: bean "${name}" must be a factory function or { factory, dispose? }`);
}
