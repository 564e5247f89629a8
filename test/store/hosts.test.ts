/**
 * The hosts table: the database's one lease, judged by the database's clock. Hosts claiming at once through their
 * own stores (their own connections) get one lease between them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../host/log/logger.js';
import { createStore } from '../../host/store/index.js';
import type { HostIdentity } from '../../host/domain/index.js';
import type { Store } from '../../host/store/types.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { eventually } from '../helpers/host.js';

const identity = (hostId: string, instance: string): HostIdentity => ({ hostId, instance, pid: 1, hostname: 'machine', version: 'test', dataDir: '/data' });

for (const database of testDatabases()) {
  describe(`host leases on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase;
    const stores: Store[] = [];

    before(async () => {
      made = await database.make();
      // The first store migrates alone; the others open a schema that is there.
      stores.push(await createStore(made.db, silentLogger));
      for (let i = 0; i < 3; i++) stores.push(await createStore(made.db, silentLogger));
    });
    after(async () => {
      for (const store of stores) await store.close();
      await made?.drop();
    });

    test('four hosts claiming at once get one lease between them, and the others are told who holds it', async () => {
      const claims = await Promise.all(stores.map((store, i) => store.hosts.claimSole(identity(`host-${i}`, `instance-${i}`), 60_000)));
      const won = claims.filter((claim) => claim.ok);
      assert.equal(won.length, 1, JSON.stringify(claims));
      const winner = won[0]!.ok ? won[0]!.host : null;
      for (const claim of claims) {
        if (!claim.ok) assert.equal(claim.holder.instance, winner!.instance);
      }
      assert.ok(winner!.live && winner!.leaseLeftMs > 50_000 && winner!.leaseLeftMs <= 60_000, `lease left ${winner!.leaseLeftMs} ms`);
      await stores[0]!.hosts.release(winner!.hostId, winner!.instance);
    });

    test('a released lease is claimed at once with a higher epoch; an expired one is taken over and its renewal fails', async () => {
      const [a, b] = stores as [Store, Store];
      const first = await a.hosts.claimSole(identity('a', 'a-1'), 60_000);
      assert.ok(first.ok);
      assert.equal(await a.hosts.renew('a', 'a-1', 1_000), true);
      await a.hosts.release('a', 'a-1');
      assert.equal(await a.hosts.renew('a', 'a-1', 1_000), false, 'a released lease is not renewed');

      const second = await b.hosts.claimSole(identity('b', 'b-1'), 1_000);
      assert.ok(second.ok && first.ok && second.host.epoch > first.host.epoch);
      const refused = await a.hosts.claimSole(identity('a', 'a-2'), 1_000);
      assert.ok(!refused.ok && refused.holder.hostId === 'b');

      // The lease ends by the database's clock: wait until the database says so.
      await eventually("b's lease to run out", async () => ((await a.hosts.list()).find((host) => host.hostId === 'b')!.leaseLeftMs <= 0 ? true : undefined));
      const third = await a.hosts.claimSole(identity('a', 'a-2'), 60_000);
      assert.ok(third.ok, 'the expired lease is taken over');
      assert.deepEqual(third.takenOver.map((host) => host.hostId), ['b']);
      assert.equal(await b.hosts.renew('b', 'b-1', 60_000), false, 'the host whose lease was taken over cannot renew it');
      const listed = (await a.hosts.list()).filter((host) => host.hostId === 'a' || host.hostId === 'b');
      assert.deepEqual(listed.map((host) => [host.hostId, host.state, host.live]), [['a', 'ACTIVE', true], ['b', 'DEAD', false]]);
    });
  });
}
