/**
 * The messages between the host and the throw-away introspection worker; both sides import this file.
 */
import type { SerializedError } from '../../errors/index.js';
import type { BundleExport } from '../../domain/index.js';

/** Sent as workerData: what to import and how to read it. */
export interface IntrospectRequest {
  /** file: URL of the bundle's main module. */
  mainUrl: string;
  kind: 'thread' | 'module';
}

/** The worker's one and only message. */
export type IntrospectReply =
  | { type: 'exports'; exports: BundleExport[] }
  | { type: 'load-failed'; error: SerializedError };
