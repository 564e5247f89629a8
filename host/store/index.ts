/**
 * createStore: connect, migrate, and hand out the repositories. The only entry into host/store for the rest of
 * the host (and the only place that imports sequelize, with the files beside it).
 */
import type { HostConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { createTokenRepo, createUserRepo } from './accounts.js';
import { publicCapabilities } from './capabilities.js';
import { connect } from './connect.js';
import type { StoreContext } from './context.js';
import { createDriver } from './driver.js';
import { createHostRepo } from './hosts.js';
import { createCacheRepo, createEventRepo, createJobRepo } from './jobs.js';
import { migrate } from './migrate.js';
import { defineModels } from './models.js';
import { createBundleRepo, createProjectRepo } from './projects.js';
import { createRunSink } from './run-sink.js';
import { BatchedRunWriter } from './run-writer.js';
import type { RunWriterOptions } from './run-writer.js';
import { createRunRepo } from './runs.js';
import type { Store } from './types.js';
import { createWriteGate } from './write-gate.js';

export type * from './types.js';
export { FINAL_RUN_STATUSES } from './types.js';
export type { RunWriterOptions } from './run-writer.js';

export interface StoreOptions {
  runWriter?: RunWriterOptions;
}

export async function createStore(db: HostConfig['db'], logger: Logger, options: StoreOptions = {}): Promise<Store> {
  const log = logger.child({ part: 'store' });
  const { sequelize, traits } = await connect(db, log);
  try {
    await migrate(sequelize, traits, log);
  } catch (err) {
    await sequelize.close();
    throw err;
  }
  const ctx: StoreContext = {
    sequelize,
    traits,
    models: defineModels(sequelize),
    write: createWriteGate(traits.serialisedWrites),
    driver: createDriver(sequelize, traits.dialect),
  };
  // SQLite writes one statement at a time anyway; a server takes the next batch while the last one commits.
  const runWriter = new BatchedRunWriter(createRunSink(ctx), log, { maxInFlight: traits.serialisedWrites ? 1 : 2, ...options.runWriter });
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
    cache: createCacheRepo(ctx),
    hosts: createHostRepo(ctx),
    close() {
      closing ??= Promise.allSettled([runWriter.close(), events.flush()]).then(() => sequelize.close());
      return closing;
    },
  };
}
