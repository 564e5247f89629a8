/**
 * The migration lock on MySQL/MariaDB: hosts that start together against one fresh database take turns, so each
 * migration runs once and both come up; without the lock they trip over each other.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { Logger } from '../../host/log/logger.js';
import { silentLogger } from '../../host/log/logger.js';
import { dialectTraits } from '../../host/store/capabilities.js';
import { connect } from '../../host/store/connect.js';
import { migrate } from '../../host/store/migrate.js';
import { MIGRATIONS } from '../../host/store/migrations/index.js';
import { createStore } from '../../host/store/index.js';
import type { Store } from '../../host/store/types.js';
import { testDatabases } from '../helpers/db.js';
import type { MadeDatabase } from '../helpers/db.js';

const database = testDatabases().find((d) => d.name === 'mysql')!;

interface MigrationEvent {
  host: string;
  event: string;
  name: string;
}

/** A logger that keeps the migration records umzug reports (migrating / migrated, per migration name). */
function migrationLog(host: string, into: MigrationEvent[]): Logger {
  const logger: Logger = {
    ...silentLogger,
    info(message, fields) {
      if (message === 'migration') into.push({ host, event: String(fields?.event), name: String(fields?.name) });
    },
    child: () => logger,
  };
  return logger;
}

describe('migrations on MySQL/MariaDB', { skip: database.skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  async function fresh(): Promise<{ made: MadeDatabase; url: string }> {
    const made = await database.make();
    cleanup.push(() => made.drop());
    return { made, url: (made.db as { url: string }).url };
  }

  test('two hosts starting together on a fresh database both come up, each migration runs once, and the lock is let go', async () => {
    const { made, url } = await fresh();
    const events: MigrationEvent[] = [];
    const stores: Store[] = await Promise.all(['a', 'b'].map((host) => createStore(made.db, migrationLog(host, events))));
    cleanup.push(() => Promise.all(stores.map((store) => store.close())));
    const names = MIGRATIONS.map((m) => m.name);
    const migrated = events.filter((e) => e.event === 'migrated');
    assert.deepEqual(migrated.map((e) => e.name), names, 'every migration ran once, in order');
    assert.equal(new Set(migrated.map((e) => e.host)).size, 1, 'one host migrated; the other found nothing left to do');
    assert.deepEqual(events.filter((e) => e.event === 'migrating').map((e) => e.name), names, 'no migration was started twice');

    const watch = await mysql.createConnection(url);
    try {
      const [meta] = await watch.query('SELECT name FROM SequelizeMeta ORDER BY name');
      assert.deepEqual((meta as { name: string }[]).map((row) => row.name), names);
      // The lock is named for the server, not the database: another suite may hold it now, but no session of ours.
      const [[held]] = (await watch.query(
        "SELECT IS_USED_LOCK('jobcenter_migrations') AS holder, (SELECT GROUP_CONCAT(ID) FROM information_schema.PROCESSLIST WHERE DB = DATABASE()) AS ours",
      )) as unknown as [[{ holder: number | null; ours: string }]];
      const ours = held.ours.split(',').map(Number);
      assert.ok(held.holder === null || !ours.includes(Number(held.holder)), `session ${held.holder}, one of the stores' (${held.ours}), still holds the migration lock`);
    } finally {
      await watch.end();
    }
    const users = await Promise.all(stores.map((store, i) => store.users.create({ username: `user-${i}`, passwordHash: 'h', role: 'viewer', disabled: false })));
    assert.equal((await stores[0]!.users.findByUsername('user-1'))?.id, users[1]!.id, 'both hosts work on the one schema');
  });

  test('without the lock, two hosts migrating a fresh database at once trip over each other', async () => {
    const { made } = await fresh();
    const unlocked = { ...dialectTraits('mysql'), migrationLock: false };
    const connections = await Promise.all([connect(made.db, silentLogger), connect(made.db, silentLogger)]);
    try {
      const outcomes = await Promise.allSettled(connections.map(({ sequelize }) => migrate(sequelize, unlocked, silentLogger)));
      const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
      assert.ok(failures.length > 0, 'both migrated the same fresh database at once without a failure: the lock guards nothing');
    } finally {
      await Promise.all(connections.map(({ sequelize }) => sequelize.close()));
    }
  });
});

for (const database of testDatabases()) {
  describe(`an up-to-date schema on ${database.name}`, { skip: database.skip }, () => {
    test('is checked with one SELECT of the meta table, and a missing migration is still run', async () => {
      const made = await database.make();
      const store = await createStore(made.db, silentLogger);
      await store.close();
      const { sequelize, traits } = await connect(made.db, silentLogger);
      try {
        const statements: string[] = [];
        (sequelize as unknown as { options: { logging: (sql: string) => void } }).options.logging = (sql) => void statements.push(sql);
        await migrate(sequelize, traits, silentLogger);
        assert.equal(statements.length, 1, statements.join('\n'));
        assert.match(statements[0]!, /SELECT `name` FROM `SequelizeMeta`/);

        // One migration not recorded (as on a database of an older host): umzug runs it again.
        await sequelize.query("DELETE FROM `SequelizeMeta` WHERE `name` = '0010-runs-trigger'");
        const events: MigrationEvent[] = [];
        await migrate(sequelize, traits, migrationLog('a', events));
        assert.deepEqual(events.filter((e) => e.event === 'migrated').map((e) => e.name), ['0010-runs-trigger']);
      } finally {
        await sequelize.close();
        await made.drop();
      }
    });
  });
}
