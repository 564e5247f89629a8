import type { QueryInterface } from 'sequelize';
import type { DialectTraits } from '../capabilities.js';

/** What every migration receives from umzug. */
export interface MigrationContext {
  queryInterface: QueryInterface;
  traits: DialectTraits;
}
