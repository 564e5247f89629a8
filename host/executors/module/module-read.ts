/**
 * Reading, on the host, what a module worker posts on its own port, checked against its shape in module-protocol.ts
 * before anything acts on it (why: ../shared/wire-read.ts).
 */
import type { ModuleWorkerMessage } from './module-protocol.js';
import { clipText, LOG_LINE_MAX_CHARS } from '../shared/wire-limits.js';
import { checked, isFields, isResult, LEVELS, readError, readWorkerResult, unreadable, type Unreadable } from '../shared/wire-read.js';

/** A message on a module worker's port. */
export function readModuleWorkerMessage(message: unknown): ModuleWorkerMessage | Unreadable {
  if (!isFields(message)) return unreadable(null, 'the message is not an object');
  switch (message.type) {
    case 'booted':
      return Array.isArray(message.jobs) && message.jobs.every((job) => typeof job === 'string') ? checked<ModuleWorkerMessage>(message) : unreadable(null, 'booted without a list of job names');
    case 'boot-failed': {
      const error = readError(message.error);
      return typeof error === 'string' ? unreadable(null, error) : checked<ModuleWorkerMessage>(message);
    }
    case 'result': {
      if (typeof message.runId !== 'string') return unreadable(null, 'a result that names no run');
      const result = readWorkerResult(message.result);
      return isResult(result) ? checked<ModuleWorkerMessage>({ ...message, result }) : unreadable(message.runId, result);
    }
    case 'log':
      return LEVELS.has(message.level) && typeof message.message === 'string'
        ? checked<ModuleWorkerMessage>({ ...message, message: clipText(message.message, LOG_LINE_MAX_CHARS) })
        : unreadable(null, 'a log line without a level and text');
    case 'stopped':
      return checked<ModuleWorkerMessage>(message);
    default:
      return unreadable(null, 'a message of no known type');
  }
}
