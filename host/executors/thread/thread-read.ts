/**
 * Reading, on the host, what a thread pool worker posts: its messages and the items of its batches, each checked
 * against its shape in thread-protocol.ts before anything acts on it (why: ../shared/wire-read.ts).
 */
import type { PoolWorkerItem, PoolWorkerMessage } from './thread-protocol.js';
import { BATCH_MAX_CHARS, count } from '../shared/wire-limits.js';
import { cacheOpProblem, checked, isFields, isOptional, isResult, LEVELS, readWorkerResult, unreadable, type Unreadable } from '../shared/wire-read.js';

/** A message on a thread pool worker's port: ready, or a batch's items (still to be read one by one). */
export function readPoolWorkerMessage(message: unknown): Exclude<PoolWorkerMessage, { type: 'batch' }> | { readonly type: 'batch'; readonly items: readonly unknown[] } | string {
  if (!isFields(message)) return 'the message is not an object';
  if (message.type === 'ready') return { type: 'ready' };
  if (message.type !== 'batch' || typeof message.json !== 'string') return 'the message is neither ready nor a batch of text';
  // The worker's own batches stay far below this (thread-outbox.ts): a longer one was posted by job code.
  if (message.json.length > BATCH_MAX_CHARS) return `the batch has ${count(message.json.length)} characters, over the limit of ${count(BATCH_MAX_CHARS)}`;
  let items: unknown;
  try {
    items = JSON.parse(message.json);
  } catch {
    return 'the batch is not JSON';
  }
  return Array.isArray(items) ? { type: 'batch', items } : 'the batch is not a list of items';
}

/** One item of a pool worker's batch. */
export function readPoolWorkerItem(item: unknown): PoolWorkerItem | Unreadable {
  if (!isFields(item)) return unreadable(null, 'an item is not an object');
  const runId = typeof item.runId === 'string' ? item.runId : null;
  if (runId === null) return unreadable(null, 'an item names no run');
  switch (item.type) {
    case 'log':
      return LEVELS.has(item.level) && typeof item.message === 'string' ? checked<PoolWorkerItem>(item) : unreadable(runId, 'a log item without a level and text');
    case 'cache': {
      const why = Number.isSafeInteger(item.id) ? cacheOpProblem(item.request) : 'a cache request without an id';
      return why === null ? checked<PoolWorkerItem>(item) : unreadable(runId, why);
    }
    case 'result': {
      if (!isOptional(item.startedAt, 'number')) return unreadable(runId, 'the start time is not a number');
      const result = readWorkerResult(item.result);
      return isResult(result) ? checked<PoolWorkerItem>({ ...item, result }) : unreadable(runId, result);
    }
    default:
      return unreadable(runId, 'an item of no known type');
  }
}
