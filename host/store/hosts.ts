/**
 * The hosts table: each host's lease on the database, judged by the database's clock only (expiry written as
 * "clock + lease", compared with the clock), so hosts whose clocks differ still agree on who holds it.
 */
import type { StoreContext } from './context.js';
import { isDeadlock, selectList } from './driver.js';
import { num, toDate } from './records.js';
import type { Row } from './models.js';
import type { HostIdentity, HostRecord, LeaseClaim } from '../domain/index.js';
import type { HostRepo } from './types.js';

/** Hosts claiming at once on MySQL: InnoDB rolls all but one back as deadlock victims, which then read the winner. */
const CLAIM_ATTEMPTS = 10;

/**
 * Statements on the driver connection (driver.ts), not through sequelize's models: a claim went through five
 * sequelize queries in a SERIALIZABLE transaction and took ~8 ms of every host start on SQLite, a release ~4 ms of
 * every stop. The claim's transaction reads every lease with locks (SQLite: BEGIN IMMEDIATE holds the one write lock;
 * InnoDB: FOR UPDATE takes next-key locks over the whole table, gaps included, so a host claiming beside this one
 * waits, or deadlocks and tries again).
 */
export function createHostRepo({ models: { Host }, traits, write, driver }: StoreContext): HostRepo {
  const clock = traits.clockNow;
  const read = `SELECT ${selectList(Host)}, ${clock} AS \`dbNow\` FROM \`hosts\` ORDER BY \`host_id\``;
  // Every row locked in the claim's transaction (see above); SQLite's IMMEDIATE transaction needs no clause.
  const readLocked = traits.dialect === 'mysql' ? `${read} FOR UPDATE` : read;
  const lit = driver.literal;

  /**
   * One transaction: read every lease, refuse when another instance holds a live one, mark the expired ones DEAD
   * (their holders' renewals then fail), and write this host's lease with the next epoch.
   */
  const claimOnce = (identity: HostIdentity, leaseMs: number) =>
    driver.transaction(async (tx): Promise<LeaseClaim> => {
      const hosts = (await tx.select(readLocked, [])).map(toHost);
      const holder = hosts.find((host) => host.live && host.instance !== identity.instance);
      if (holder) return { ok: false, holder };
      const takenOver = hosts.filter((host) => host.state === 'ACTIVE' && host.instance !== identity.instance);
      if (takenOver.length > 0) {
        await tx.run(`UPDATE \`hosts\` SET \`state\` = 'DEAD' WHERE \`host_id\` IN (${takenOver.map((host) => lit(host.hostId)).join(', ')})`);
      }
      const lease: [string, string][] = [
        ['instance', lit(identity.instance)],
        ['epoch', lit(Math.max(0, ...hosts.map((host) => host.epoch)) + 1)],
        ['state', "'ACTIVE'"],
        ['lease_until', traits.clockPlus(leaseMs)],
        ['heartbeat_at', clock],
        ['started_at', clock],
        ['pid', lit(identity.pid)],
        ['hostname', lit(identity.hostname)],
        ['version', lit(identity.version)],
        ['data_dir', lit(identity.dataDir)],
      ];
      if (hosts.some((host) => host.hostId === identity.hostId)) {
        await tx.run(`UPDATE \`hosts\` SET ${lease.map(([column, value]) => `\`${column}\` = ${value}`).join(', ')} WHERE \`host_id\` = ${lit(identity.hostId)}`);
      } else {
        const columns = [['host_id', lit(identity.hostId)], ...lease];
        await tx.run(`INSERT INTO \`hosts\` (${columns.map(([column]) => `\`${column}\``).join(', ')}) VALUES (${columns.map(([, value]) => value).join(', ')})`);
      }
      const host = (await tx.select(readLocked, [])).map(toHost).find((h) => h.hostId === identity.hostId)!;
      return { ok: true, host, takenOver };
    });

  /** This instance's ACTIVE row only: a host that lost its lease changes nothing. */
  const mine = (hostId: string, instance: string) =>
    `WHERE \`host_id\` = ${lit(hostId)} AND \`instance\` = ${lit(instance)} AND \`state\` = 'ACTIVE'`;

  return {
    async claimSole(identity, leaseMs) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await write(() => claimOnce(identity, leaseMs));
        } catch (err) {
          if (attempt >= CLAIM_ATTEMPTS || !isDeadlock(err)) throw err;
          // Apart at random, so the victims of one deadlock do not meet again in the next.
          await new Promise((resolve) => setTimeout(resolve, attempt * 10 + Math.random() * 40));
        }
      }
    },
    async renew(hostId, instance, leaseMs) {
      const changed = await write(() => driver.run(`UPDATE \`hosts\` SET \`lease_until\` = ${traits.clockPlus(leaseMs)}, \`heartbeat_at\` = ${clock} ${mine(hostId, instance)}`));
      return changed === 1;
    },
    async release(hostId, instance) {
      await write(() => driver.run(`UPDATE \`hosts\` SET \`state\` = 'STOPPED', \`lease_until\` = ${clock} ${mine(hostId, instance)}`));
    },
    list: async () => (await driver.select(read, [])).map(toHost),
  };
}

function toHost(r: Row | Record<string, unknown>): HostRecord {
  const leaseUntil = toDate(r.leaseUntil);
  const leaseLeftMs = leaseUntil.getTime() - toDate(r.dbNow).getTime();
  const state = r.state as HostRecord['state'];
  return {
    hostId: String(r.hostId),
    instance: String(r.instance),
    epoch: num(r.epoch),
    state,
    leaseUntil,
    heartbeatAt: toDate(r.heartbeatAt),
    startedAt: toDate(r.startedAt),
    pid: num(r.pid),
    hostname: String(r.hostname),
    version: String(r.version),
    dataDir: String(r.dataDir),
    live: state === 'ACTIVE' && leaseLeftMs > 0,
    leaseLeftMs,
  };
}
