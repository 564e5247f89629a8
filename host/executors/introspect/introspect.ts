/**
 * Lists a bundle's jobs and resolvers by importing its main module in a throw-away worker thread with a memory
 * limit and a time limit. The worker's console output is captured (not forwarded to the host's stdout).
 */
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { unprocessable, type SerializedError } from '../../errors/index.js';
import { startWorkerFile } from '../shared/worker-file.js';
import type { Logger } from '../../log/logger.js';
import type { BundleExport } from '../../domain/index.js';
import type { IntrospectReply, IntrospectRequest } from './introspect-protocol.js';

export interface IntrospectOptions {
  timeoutMs: number;
  /** Old-generation heap limit of the worker. */
  memoryLimitMb: number;
  logger: Logger;
}

const STDERR_TAIL_CHARS = 2_000;

/** Resolves with the main module's exports or rejects with UNPROCESSABLE saying why it could not be loaded. */
export function introspectMain(
  mainFile: string,
  kind: IntrospectRequest['kind'],
  opts: IntrospectOptions,
): Promise<BundleExport[]> {
  const request: IntrospectRequest = { mainUrl: pathToFileURL(mainFile).href, kind };
  const worker = startWorkerFile(import.meta.url, 'introspect-worker', {
    workerData: request,
    resourceLimits: { maxOldGenerationSizeMb: opts.memoryLimitMb },
    stdout: true,
    stderr: true,
  });
  return awaitReply(worker, opts);
}

function awaitReply(worker: Worker, opts: IntrospectOptions): Promise<BundleExport[]> {
  let stderrTail = '';
  worker.stdout.resume();
  worker.stderr.setEncoding('utf8');
  worker.stderr.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  return new Promise<BundleExport[]>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: { exports: BundleExport[] } | { error: Error }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The bundle may have left timers or sockets behind: the worker never ends by itself, so always terminate.
      worker.terminate().catch((err: unknown) => opts.logger.warn('introspection worker did not terminate', { err: String(err) }));
      if (stderrTail) opts.logger.debug('bundle wrote to stderr while loading', { stderr: stderrTail });
      if ('exports' in outcome) resolve(outcome.exports);
      else reject(outcome.error);
    };
    const timer = setTimeout(() => {
      finish({ error: unprocessable(`introspection timed out after ${opts.timeoutMs} ms (main module never finished loading)`) });
    }, opts.timeoutMs);
    worker.on('message', (reply: IntrospectReply) => {
      if (reply.type === 'exports') finish({ exports: reply.exports });
      else finish({ error: loadFailure(reply.error) });
    });
    worker.on('error', (err: Error & { code?: string }) => finish({ error: workerFailure(err, opts.memoryLimitMb) }));
    worker.on('exit', (code) => {
      finish({ error: unprocessable(`main module ended the introspection worker while loading (process.exit(${code}) or a fatal error)`) });
    });
  });
}

function loadFailure(error: SerializedError): Error {
  // A module context that cannot be built says which bean; the bean is the news, not the error class.
  if (error.code === 'MODULE_BOOT_FAILED') return unprocessable(`module context failed to start: ${error.message}`);
  return unprocessable(`main module threw while loading: ${error.name}: ${error.message}`);
}

function workerFailure(err: Error & { code?: string }, memoryLimitMb: number): Error {
  if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return unprocessable(`main module ran out of memory while loading (limit ${memoryLimitMb} MB)`);
  }
  // Errors thrown after the import settled (a timer, an unhandled rejection) also land here.
  return unprocessable(`main module threw while loading: ${err.name}: ${err.message}`);
}
