/**
 * The hosts table: each host's lease on the database, judged by the database's clock only (expiry written as
 * "clock + lease", compared with the clock), so hosts whose clocks differ still agree on who holds it.
 */
import { Op, Transaction } from 'sequelize';
import type { StoreContext } from './context.js';
import { isDeadlock } from './driver.js';
import { num, toDate } from './records.js';
import type { Row } from './models.js';
import type { HostIdentity, HostRecord, LeaseClaim } from '../domain/index.js';
import type { HostRepo } from './types.js';

/** Hosts claiming at once on MySQL: InnoDB rolls all but one back as deadlock victims, which then read the winner. */
const CLAIM_ATTEMPTS = 10;

export function createHostRepo({ sequelize, models: { Host }, traits, write }: StoreContext): HostRepo {
  const clock = () => sequelize.literal(traits.clockNow);
  const clockPlus = (ms: number) => sequelize.literal(traits.clockPlus(ms));

  const read = async (transaction?: Transaction): Promise<HostRecord[]> => {
    const rows = (await Host.findAll({
      attributes: { include: [[clock(), 'dbNow']] },
      order: [['hostId', 'ASC']],
      raw: true,
      transaction,
      // Every row locked (and, SERIALIZABLE, the gaps): a host claiming beside this one waits, or deadlocks and retries.
      lock: transaction ? transaction.LOCK.UPDATE : undefined,
    })) as unknown as Row[];
    return rows.map(toHost);
  };

  /**
   * One transaction: read every lease, refuse when another instance holds a live one, mark the expired ones DEAD
   * (their holders' renewals then fail), and write this host's lease with the next epoch.
   */
  const claimOnce = (identity: HostIdentity, leaseMs: number) =>
    sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE }, async (transaction): Promise<LeaseClaim> => {
      const hosts = await read(transaction);
      const holder = hosts.find((host) => host.live && host.instance !== identity.instance);
      if (holder) return { ok: false, holder };
      const takenOver = hosts.filter((host) => host.state === 'ACTIVE' && host.instance !== identity.instance);
      if (takenOver.length > 0) {
        await Host.update({ state: 'DEAD' }, { where: { hostId: { [Op.in]: takenOver.map((host) => host.hostId) } }, transaction });
      }
      const lease = {
        ...identity,
        epoch: Math.max(0, ...hosts.map((host) => host.epoch)) + 1,
        state: 'ACTIVE',
        leaseUntil: clockPlus(leaseMs),
        heartbeatAt: clock(),
        startedAt: clock(),
      };
      if (hosts.some((host) => host.hostId === identity.hostId)) {
        await Host.update(lease, { where: { hostId: identity.hostId }, transaction });
      } else {
        await Host.create(lease, { transaction });
      }
      const host = (await read(transaction)).find((h) => h.hostId === identity.hostId)!;
      return { ok: true, host, takenOver };
    });

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
      const [changed] = await write(() =>
        Host.update({ leaseUntil: clockPlus(leaseMs), heartbeatAt: clock() }, { where: { hostId, instance, state: 'ACTIVE' } }),
      );
      return changed === 1;
    },
    async release(hostId, instance) {
      await write(() => Host.update({ state: 'STOPPED', leaseUntil: clock() }, { where: { hostId, instance, state: 'ACTIVE' } }));
    },
    list: () => read(),
  };
}

function toHost(r: Row): HostRecord {
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
