/**
 * Runs in a throw-away worker thread: imports a bundle's main module and reports its jobs and resolvers. The
 * bundle's top-level code runs here, so a crash, hang or memory blow-up only costs this worker. For kind module
 * the whole context is booted (every bean built, onStart), listed, then stopped (onStop, disposers), so a bean
 * that cannot be built refuses the upload.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { JobLogger } from '@jobcenter/job-api';
import { loadModuleConfig } from '@jobcenter/config';
import { serializeError } from '../../errors/index.js';
import { bootModule, moduleDefinitionOf } from '../module/module-context.js';
import type { BundleExport } from '../../domain/index.js';
import { scanModuleBeans, scanThreadExports } from './export-scan.js';
import type { IntrospectReply, IntrospectRequest } from './introspect-protocol.js';

/** The module's lifecycle log has nowhere to go during introspection. */
const quiet: JobLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

async function introspect(request: IntrospectRequest): Promise<IntrospectReply> {
  try {
    const namespace = (await import(request.mainUrl)) as Record<string, unknown>;
    const exports = request.kind === 'module' ? await scanModule(namespace, request.mainUrl) : scanThreadExports(namespace);
    return { type: 'exports', exports };
  } catch (err) {
    return { type: 'load-failed', error: serializeError(err) };
  }
}

async function scanModule(namespace: Record<string, unknown>, mainUrl: string): Promise<BundleExport[]> {
  const def = moduleDefinitionOf(namespace);
  const config = await loadModuleConfig(bundleDirOf(fileURLToPath(mainUrl)), null);
  const module = await bootModule(def, { config, log: quiet });
  const exports = scanModuleBeans(module.beans);
  await module.stop();
  return exports;
}

/** The extracted bundle's root: the nearest folder above the main module holding jobcenter.json. */
function bundleDirOf(mainFile: string): string {
  let dir = path.dirname(mainFile);
  while (!existsSync(path.join(dir, 'jobcenter.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

if (parentPort) {
  const port = parentPort;
  void introspect(workerData as IntrospectRequest).then((reply) => port.postMessage(reply));
}
