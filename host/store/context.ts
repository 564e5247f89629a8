import type { Sequelize, Utils } from 'sequelize';
import { literal, UniqueConstraintError } from 'sequelize';
import type { HostConfig } from '../config/index.js';
import { conflict } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { DialectTraits } from './capabilities.js';
import { connect } from './connect.js';
import { createDriver } from './driver.js';
import type { Driver } from './driver.js';
import { migrate } from './migrate.js';
import { defineModels } from './models.js';
import type { Models } from './models.js';
import { createWriteGate } from './write-gate.js';
import type { WriteGate } from './write-gate.js';

/** What every repository of the store shares. */
export interface StoreContext {
  sequelize: Sequelize;
  models: Models;
  traits: DialectTraits;
  /** Every write goes through it (one writer at a time on SQLite). */
  write: WriteGate;
  /** Statements past sequelize's query layer, for the paths that run per run or per request. */
  driver: Driver;
}

/**
 * Connects, brings the schema up to date and builds what the repositories share: createStore's first half, and what
 * store tests build a run writer on (over a sink they watch).
 */
export async function openStoreContext(db: HostConfig['db'], logger: Logger): Promise<StoreContext> {
  const { sequelize, traits } = await connect(db, logger);
  try {
    await migrate(sequelize, traits, logger);
  } catch (err) {
    await sequelize.close();
    throw err;
  }
  return {
    sequelize,
    traits,
    models: defineModels(sequelize),
    write: createWriteGate(traits.serialisedWrites),
    driver: createDriver(sequelize, traits.dialect),
  };
}

/** Turns a unique-index violation into a CONFLICT the web layer can show; other errors pass unchanged. */
export async function uniquely<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof UniqueConstraintError) throw conflict(`${what} already exists`);
    throw err;
  }
}

/** Drops undefined values so a patch only touches what it names. */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * `name` contains `text`, in any case, with LIKE's wildcards in it taken as plain characters (escaped with '!', which
 * both dialects accept; a backslash would mean different things under MySQL's sql_modes). Names are ASCII, so
 * LOWER() on both sides is enough where MySQL's collation is binary.
 */
export function nameContains(sequelize: Sequelize, text: string): Utils.Literal {
  const pattern = `%${text.toLowerCase().replace(/[!%_]/g, '!$&')}%`;
  return literal(`LOWER(\`name\`) LIKE ${sequelize.escape(pattern)} ESCAPE '!'`);
}
