/**
 * The host's end of one module run's MessagePort: log lines and 'started' go to the run's hooks, cache requests are
 * answered through hooks.cache, and the abort is posted to the job. See run-protocol.ts for the messages. (Thread pool
 * runs have no port of their own: see thread-handle.ts.)
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { reasonText, serializeError } from '../../errors/index.js';
import type { RunHooks } from './executor.js';
import { watchAbort } from './abort-watch.js';
import type { CacheOp, HostMessage } from './run-protocol.js';
import { boundedJson, CACHE_VALUE_MAX_CHARS, cacheValueTooLarge } from './wire-limits.js';
import { readRunPortMessage } from './wire-read.js';

export interface HostRunPort {
  /** Resolves when the worker's last message ('end') arrived or the port closed, whichever comes first. */
  readonly ended: Promise<void>;
  abort(reason: string): void;
  close(): void;
}

export function attachRunPort(port: MessagePort, hooks: RunHooks): HostRunPort {
  let closed = false;
  let markEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => {
    markEnded = resolve;
  });
  const send = (message: HostMessage): void => {
    if (closed) return;
    try {
      port.postMessage(message);
    } catch (err) {
      // A cache value that cannot be cloned must fail that request, not the host.
      if (message.type === 'cache-reply') send({ type: 'cache-reply', id: message.id, ok: false, error: serializeError(err) });
    }
  };
  port.on('message', (raw: unknown) => {
    // Job code can reach this port in its worker: what arrives is read, never trusted (wire-read.ts).
    const message = readRunPortMessage(raw);
    if (typeof message === 'string') {
      hooks.log('error', `[jobcenter] a message on this run's port could not be read and was dropped: ${message}`);
      return;
    }
    switch (message.type) {
      case 'log':
        hooks.log(message.level, message.message);
        break;
      case 'started':
        hooks.started?.(message.at);
        break;
      case 'cache':
        answerCache(message.id, message.request, hooks, send);
        break;
      case 'end':
        markEnded();
        break;
    }
  });
  port.on('close', () => markEnded());
  return {
    ended,
    abort: (reason) => send({ type: 'abort', reason }),
    close() {
      closed = true;
      markEnded();
      port.removeAllListeners('message');
      port.close();
    },
  };
}

function answerCache(id: number, request: CacheOp, hooks: RunHooks, send: (m: HostMessage) => void): void {
  callCache(request, hooks.cache).then(
    (value) => send({ type: 'cache-reply', id, ok: true, value }),
    (err: unknown) => send({ type: 'cache-reply', id, ok: false, error: serializeError(err) }),
  );
}

/** Performs a job's cache request on the run's cache; a cache that throws synchronously rejects instead. */
export function callCache(request: CacheOp, cache: RunHooks['cache']): Promise<unknown> {
  try {
    if (request.op === 'get') return cache.get(request.key);
    if (request.op === 'set') {
      // Checked again here: a worker checks in the job's call, but job code can post a request itself.
      const measured = boundedJson(request.value, CACHE_VALUE_MAX_CHARS);
      if ('tooLarge' in measured) throw cacheValueTooLarge(measured.tooLarge);
      return cache.set(request.key, request.value, request.ttlMs);
    }
    return cache.delete(request.key);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** One run as the executor sees it: the port to hand to the worker, and the kill sequence already armed. */
export interface HostRun {
  /** Transfer this port to the worker with the task. */
  readonly workerPort: MessagePort;
  /** See HostRunPort.ended. */
  readonly ended: Promise<void>;
  /** True once the grace time after an abort ran out and onGraceOver was called. */
  readonly graceOver: boolean;
  /** Disarms the kill sequence and closes the host's port. */
  close(): void;
}

/**
 * Opens a run's channel and arms its kill: when hooks.signal aborts, the job is told (its ctx.signal); if the run
 * has not ended after graceMs, onGraceOver must stop it the hard way (terminate its worker).
 */
export function openHostRun(hooks: RunHooks, graceMs: number, onGraceOver: () => void): HostRun {
  const { port1, port2 } = new MessageChannel();
  const runPort = attachRunPort(port1, hooks);
  let graceTimer: NodeJS.Timeout | undefined;
  let graceOver = false;
  const onAbort = (): void => {
    runPort.abort(reasonText(hooks.signal.reason));
    graceTimer = setTimeout(() => {
      graceOver = true;
      onGraceOver();
    }, graceMs);
  };
  const unwatch = watchAbort(hooks.signal, onAbort);
  return {
    workerPort: port2,
    ended: runPort.ended,
    get graceOver() {
      return graceOver;
    },
    close() {
      clearTimeout(graceTimer);
      unwatch();
      runPort.close();
    },
  };
}

