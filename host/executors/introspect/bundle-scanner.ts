/**
 * The loader's answer to "which jobs does this bundle export?": it loads a main module the way its executor will
 * (a throw-away worker for thread and module, a throw-away isolate for isolate), with a memory and a time limit.
 * Bundle intake receives it from the composition root, so host/bundles never imports the executors.
 */
import type { BundleScanner } from '../../bundles/index.js';
import type { HostConfig } from '../../config/index.js';
import type { Logger } from '../../log/logger.js';
import { introspectMain } from './introspect.js';
import { scanIsolateMain } from './isolate-scan.js';

/** Heap limit of the introspection worker: enough for real bundles, small enough that a blow-up is cheap. */
const INTROSPECT_MEMORY_MB = 128;
/** Heap limit of the throw-away isolate that loads an isolate bundle's main. */
const ISOLATE_SCAN_MEMORY_MB = 64;

export function createBundleScanner(deps: { config: HostConfig; logger: Logger }): BundleScanner {
  const timeoutMs = deps.config.introspectTimeoutMs;
  return (kind, mainFile) => {
    if (kind === 'isolate') return scanIsolateMain(mainFile, { timeoutMs, memoryLimitMb: ISOLATE_SCAN_MEMORY_MB });
    return introspectMain(mainFile, kind, { timeoutMs, memoryLimitMb: INTROSPECT_MEMORY_MB, logger: deps.logger });
  };
}
