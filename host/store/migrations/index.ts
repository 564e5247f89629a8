/**
 * The migrations in order. Listed here rather than globbed so they load the same compiled (dist/…/*.js) and under
 * tsx (*.ts). Names are stored in the meta table: never rename one.
 */
import type { RunnableMigration } from 'umzug';
import * as initial from './0001-initial.js';
import * as identifierGrants from './0002-job-identifier-grants.js';
import * as retries from './0003-job-retries.js';
import * as runNotBefore from './0004-run-not-before.js';
import * as hosts from './0005-hosts.js';
import * as projectTrust from './0006-project-trust.js';
import * as runsJobStatus from './0007-runs-job-status.js';
import * as runRollups from './0008-run-rollups.js';
import * as eventEntities from './0009-event-entities.js';
import * as runsTrigger from './0010-runs-trigger.js';
import * as rollupMinutesByProject from './0011-rollup-minutes-by-project.js';
import type { MigrationContext } from './context.js';

export const MIGRATIONS: RunnableMigration<MigrationContext>[] = [
  { name: '0001-initial', ...initial },
  { name: '0002-job-identifier-grants', ...identifierGrants },
  { name: '0003-job-retries', ...retries },
  { name: '0004-run-not-before', ...runNotBefore },
  { name: '0005-hosts', ...hosts },
  { name: '0006-project-trust', ...projectTrust },
  { name: '0007-runs-job-status', ...runsJobStatus },
  { name: '0008-run-rollups', ...runRollups },
  { name: '0009-event-entities', ...eventEntities },
  { name: '0010-runs-trigger', ...runsTrigger },
  { name: '0011-rollup-minutes-by-project', ...rollupMinutesByProject },
];
