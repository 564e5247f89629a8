import type { Sequelize } from 'sequelize';
import { UniqueConstraintError } from 'sequelize';
import { conflict } from '../errors/index.js';
import type { DialectTraits } from './capabilities.js';
import type { Driver } from './driver.js';
import type { Models } from './models.js';
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
