/**
 * The few error classes that mean something to the host, recognised by `code` (not instanceof) once they cross a
 * boundary. HTTP status mapping lives in host/web; internal messages never reach clients.
 */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'TOO_LARGE'
  | 'UNPROCESSABLE'
  | 'TOO_MANY_REQUESTS'
  | 'DUPLICATE_FIRE'
  | 'UNAVAILABLE'
  | 'LEASE_LOST'
  | 'INTERNAL';

export class HostError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'HostError';
    this.code = code;
    this.details = details;
  }
}

/** 400: the input is wrong; `field` names what. */
export function badRequest(message: string, field?: string): HostError {
  return new HostError('BAD_REQUEST', message, field ? { field } : undefined);
}
/** 503: the host cannot take this now (its database does not answer); the client may try again later. */
export function unavailable(message: string): HostError {
  return new HostError('UNAVAILABLE', message);
}
export function notFound(what: string): HostError {
  return new HostError('NOT_FOUND', `${what} not found`);
}
export function conflict(message: string, details?: unknown): HostError {
  return new HostError('CONFLICT', message, details);
}
/** This host no longer holds its lease on the database or data folder: it must stop acting. */
export function leaseLost(message: string): HostError {
  return new HostError('LEASE_LOST', message);
}
export function unprocessable(message: string, details?: unknown): HostError {
  return new HostError('UNPROCESSABLE', message, details);
}
export function tooLarge(message: string): HostError {
  return new HostError('TOO_LARGE', message);
}
/** 429: too many attempts; the client may try again after `retryAfterS` seconds (sent as Retry-After). */
export function tooManyRequests(message: string, retryAfterS: number): HostError {
  return new HostError('TOO_MANY_REQUESTS', message, { retryAfterS });
}
export function forbidden(message = 'not allowed'): HostError {
  return new HostError('FORBIDDEN', message);
}
export function unauthorized(message = 'authentication required'): HostError {
  return new HostError('UNAUTHORIZED', message);
}

export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** The plain shape errors cross thread / process boundaries in. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** The reason an AbortSignal was aborted with, as text for a run's error (kill, timeout, shutdown…). */
export function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === 'string') return reason;
  return reason === undefined ? 'aborted' : String(reason);
}

const stringify = JSON.stringify;

/**
 * Never throws. Inside a worker the error is job code's: its fields may be getters that throw, or not text, and
 * Error.prepareStackTrace may be its own. Each field is read on its own and only text is kept. JSON.stringify is the
 * one this module found when it was loaded, before any job code (see executors/shared/worker-primordials.ts).
 */
export function serializeError(err: unknown): SerializedError {
  if (!isError(err)) return { name: 'Error', message: typeof err === 'string' ? err : safeString(err) };
  const name = field(err, 'name');
  const message = field(err, 'message');
  const stack = field(err, 'stack');
  const code = field(err, 'code');
  return {
    name: typeof name === 'string' ? name : 'Error',
    message: typeof message === 'string' ? message : message === undefined ? '(the error has no readable message)' : safeString(message),
    ...(typeof stack === 'string' ? { stack } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

function isError(err: unknown): err is Error {
  try {
    return err instanceof Error;
  } catch {
    return false;
  }
}

/** err[name], or undefined when reading it throws. */
function field(err: Error, name: 'name' | 'message' | 'stack' | 'code'): unknown {
  try {
    return (err as unknown as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}

function safeString(value: unknown): string {
  try {
    return stringify(value) ?? String(value);
  } catch {
    try {
      return String(value);
    } catch {
      return 'a value that cannot be shown as text';
    }
  }
}
