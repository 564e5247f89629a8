/**
 * Decides which exported values of a bundle's main module are jobs and which are resolvers. Runs inside the
 * introspection worker, never in the host's realm: reading a property may run the bundle's getters.
 */
import type { BundleExport } from '../../domain/index.js';

type ExportType = BundleExport['type'];

/** A value with `resolve` (or a class whose prototype has it) is a resolver; with `execute` a job; else null. */
export function classifyValue(value: unknown): ExportType | null {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return null;
  if (hasMethod(value, 'resolve') || hasPrototypeMethod(value, 'resolve')) return 'resolver';
  if (hasMethod(value, 'execute') || hasPrototypeMethod(value, 'execute')) return 'job';
  return null;
}

/**
 * Lists jobs and resolvers among a module namespace's named exports; when the module only has a default export
 * that is a plain holder object (a CommonJS `module.exports = {…}` or `export default {…}`), lists its properties.
 */
export function scanThreadExports(namespace: Record<string, unknown>): BundleExport[] {
  const found = scanObject(namespace, (key) => key !== 'default');
  if ('default' in namespace) {
    const value = namespace.default;
    const type = classifyValue(value);
    if (type) found.push({ name: 'default', type });
    else if (found.length === 0 && typeof value === 'object' && value !== null) found.push(...scanObject(value, () => true));
  }
  return dedupe(found);
}

/**
 * kind 'module': the beans of a booted module context that are jobs or resolvers (objects with execute or
 * resolve), in build order; a job's entry is the bean's name.
 */
export function scanModuleBeans(beans: ReadonlyMap<string, unknown>): BundleExport[] {
  const found: BundleExport[] = [];
  for (const [name, value] of beans) {
    const type = typeof value === 'object' ? classifyValue(value) : null;
    if (type) found.push({ name, type });
  }
  return found;
}

function scanObject(holder: object, include: (key: string) => boolean): BundleExport[] {
  const found: BundleExport[] = [];
  for (const key of Object.keys(holder)) {
    if (!include(key)) continue;
    const type = classifyValue(safeGet(holder, key));
    if (type) found.push({ name: key, type });
  }
  return found;
}

function dedupe(list: BundleExport[]): BundleExport[] {
  const seen = new Set<string>();
  return list.filter((e) => (seen.has(e.name) ? false : (seen.add(e.name), true)));
}

function hasMethod(value: object, name: string): boolean {
  return typeof safeGet(value, name) === 'function';
}

function hasPrototypeMethod(value: object, name: string): boolean {
  if (typeof value !== 'function') return false;
  const proto = safeGet(value, 'prototype');
  return typeof proto === 'object' && proto !== null && typeof safeGet(proto, name) === 'function';
}

/** A getter that throws is read as "not there" rather than failing the whole scan. */
function safeGet(holder: object, key: string): unknown {
  try {
    return (holder as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}
