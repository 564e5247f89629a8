/**
 * Runs in a throw-away worker thread: imports a bundle's main module and reports its jobs and resolvers. The
 * bundle's top-level code runs here, so a crash, hang or memory blow-up only costs this worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../errors/index.js';
import { scanModuleExports, scanThreadExports } from './export-scan.js';
import type { IntrospectReply, IntrospectRequest } from './protocol.js';

async function introspect(request: IntrospectRequest): Promise<IntrospectReply> {
  try {
    const namespace = (await import(request.mainUrl)) as Record<string, unknown>;
    const exports = request.kind === 'module' ? scanModuleExports(namespace) : scanThreadExports(namespace);
    return { type: 'exports', exports };
  } catch (err) {
    return { type: 'load-failed', error: serializeError(err) };
  }
}

if (parentPort) {
  const port = parentPort;
  void introspect(workerData as IntrospectRequest).then((reply) => port.postMessage(reply));
}
