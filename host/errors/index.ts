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
  | 'DUPLICATE_FIRE'
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

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      message: err.message,
      stack: err.stack,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : safeString(err) };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
