/**
 * createStore: connect, migrate, and hand out the repositories. The only entry into host/store for the rest of
 * the host (and the only place that imports sequelize, with the files beside it).
 */
import type { HostConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { createTokenRepo, createUserRepo } from './accounts.js';
import { publicCapabilities } from './capabilities.js';
import { openStoreContext } from './context.js';
import { StoreHealth } from './health.js';
import { createHostRepo } from './hosts.js';
import { createCacheRepo, createEventRepo, createJobRepo } from './jobs.js';
import { createBundleRepo, createProjectRepo } from './projects.js';
import { createRollupRepo } from './run-rollups.js';
import { createRunSink } from './run-sink.js';
import { BatchedRunWriter } from './run-writer.js';
import type { RunWriterOptions } from './run-writer.js';
import { createRunRepo } from './runs.js';
import type { Store } from './types.js';

export type * from './types.js';
export type { RunWriterOptions } from './run-writer.js';

export interface StoreOptions {
  runWriter?: RunWriterOptions;
  /** How often a database that does not answer is asked again (default 1 s). */
  healthProbeMs?: number;
}

export async function createStore(db: HostConfig['db'], logger: Logger, options: StoreOptions = {}): Promise<Store> {
  const log = logger.child({ part: 'store' });
  const ctx = await openStoreContext(db, log);
  const { sequelize, traits } = ctx;
  const health = new StoreHealth(() => ctx.write(() => ctx.driver.run(traits.healthProbe)), log, options.healthProbeMs);
  // SQLite writes one statement at a time anyway; a server takes the next batch while the last one commits.
  const runWriter = new BatchedRunWriter(createRunSink(ctx), log, { maxInFlight: traits.serialisedWrites ? 1 : 2, ...options.runWriter }, health);
  const events = createEventRepo(ctx);
  let closing: Promise<void> | null = null;
  return {
    capabilities: publicCapabilities(traits),
    users: createUserRepo(ctx),
    tokens: createTokenRepo(ctx),
    projects: createProjectRepo(ctx),
    bundles: createBundleRepo(ctx),
    jobs: createJobRepo(ctx),
    runs: createRunRepo(ctx),
    runWriter,
    events,
    rollups: createRollupRepo(ctx),
    cache: createCacheRepo(ctx),
    health,
    hosts: createHostRepo(ctx),
    close() {
      // A database that does not answer by now will not take the rows left: the next start settles their runs.
      closing ??= Promise.allSettled([runWriter.close(health.up ? Infinity : 0), events.flush()]).then(() => {
        health.close();
        return sequelize.close();
      });
      return closing;
    },
  };
}
