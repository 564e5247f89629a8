/**
 * This host's lease on its database (and its data folder), taken at start before anything touches a run, renewed
 * on a timer, released at a clean stop. Until cluster mode exists one host runs per database: two hosts on one had
 * both run every job, and a job stopped through one kept running on the other.
 *
 * Safety does not rest on this host's clock agreeing with the database's: expiry is the database's clock + leaseMs,
 * and this host gives up by its own monotonic clock at 80 % of leaseMs after sending its last successful renewal,
 * before the database can let anyone else take the lease (as long as the two clocks' rates differ by less than 20 %).
 */
import { performance } from 'node:perf_hooks';
import { conflict, hasCode, leaseLost, serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { HostIdentity, HostRecord } from '../domain/index.js';
import type { HostRepo } from '../store/types.js';
import type { DataDirLock } from './data-dir-lock.js';

/** Renewals per lease length: two may fail before the third decides. */
const RENEWALS_PER_LEASE = 3;
/** The share of a lease after its last renewal that this host keeps acting on it. */
const SELF_FENCE_SHARE = 0.8;

export interface HostLeaseDeps {
  hosts: HostRepo;
  folder: DataDirLock;
  leaseMs: number;
  logger: Logger;
  /** The lease is lost (another host holds it, or it could not be renewed in time): this host must stop. */
  onLost(reason: Error): void;
}

export interface HostLease {
  /** The database's lease generation of this holder: a later holder has a higher one. */
  readonly epoch: number;
  /** Stops renewing and ends the lease, so the next host starts at once. */
  release(): Promise<void>;
}

/** Takes the lease or throws a CONFLICT naming the host that holds it. */
export async function takeHostLease(deps: HostLeaseDeps, identity: HostIdentity): Promise<HostLease> {
  const sentAt = performance.now();
  const claim = await deps.hosts.claimSole(identity, deps.leaseMs);
  if (!claim.ok) {
    throw conflict(
      `another JobCenter host holds this database: ${describeHost(claim.holder)}. One host runs per database until cluster mode ` +
        'exists: stop that host (a clean stop frees the database at once); a host that died frees it when its lease expires.',
      { holder: claim.holder },
    );
  }
  for (const gone of claim.takenOver) {
    deps.logger.warn('took over the expired lease of a host that is gone', { previous: describeHost(gone) });
  }
  return new RenewedLease(deps, identity, claim.host.epoch, sentAt);
}

class RenewedLease implements HostLease {
  readonly epoch: number;
  private renewTimer: NodeJS.Timeout | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  private over = false;

  constructor(
    private readonly deps: HostLeaseDeps,
    private readonly identity: HostIdentity,
    epoch: number,
    sentAt: number,
  ) {
    this.epoch = epoch;
    this.armFence(sentAt);
    this.scheduleRenewal();
  }

  async release(): Promise<void> {
    if (this.over) return;
    this.stopTimers();
    await this.deps.hosts.release(this.identity.hostId, this.identity.instance);
  }

  private scheduleRenewal(): void {
    this.renewTimer = setTimeout(() => void this.renew(), this.deps.leaseMs / RENEWALS_PER_LEASE);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    const { hosts, folder, logger } = this.deps;
    const sentAt = performance.now();
    try {
      const held = await hosts.renew(this.identity.hostId, this.identity.instance, this.deps.leaseMs);
      if (this.over) return;
      if (!held) {
        this.lose(leaseLost(`this host's lease on the database was taken over: ${await this.currentHolder()}`));
        return;
      }
      this.armFence(sentAt);
      await folder.touch();
    } catch (err) {
      if (this.over) return;
      // Anything else (the database unreachable or busy) is tried again until the fence timer decides.
      if (hasCode(err, 'LEASE_LOST')) {
        this.lose(err as Error);
        return;
      }
      logger.warn('could not renew the host lease; trying again', { error: serializeError(err).message });
    }
    if (!this.over) this.scheduleRenewal();
  }

  /** Gives up the lease by this host's monotonic clock, before the database would let another host take it. */
  private armFence(sentAt: number): void {
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    const limit = this.deps.leaseMs * SELF_FENCE_SHARE;
    this.fenceTimer = setTimeout(
      () => this.lose(leaseLost(`this host could not renew its lease on the database for ${Math.round(limit)} ms`)),
      Math.max(0, sentAt + limit - performance.now()),
    );
    this.fenceTimer.unref();
  }

  private lose(reason: Error): void {
    if (this.over) return;
    this.over = true;
    this.stopTimers();
    this.deps.onLost(reason);
  }

  private stopTimers(): void {
    this.over = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
  }

  private async currentHolder(): Promise<string> {
    try {
      const holder = (await this.deps.hosts.list()).find((host) => host.live);
      return holder ? describeHost(holder) : 'no host holds it now';
    } catch (err) {
      return `the holder could not be read (${serializeError(err).message})`;
    }
  }
}

function describeHost(host: HostRecord): string {
  const lease = host.leaseLeftMs > 0 ? `its lease runs ${Math.ceil(host.leaseLeftMs / 1_000)} s more` : 'its lease has expired';
  return (
    `host "${host.hostId}" (pid ${host.pid} on ${host.hostname}, data folder ${host.dataDir}, version ${host.version}, ` +
    `started ${host.startedAt.toISOString()}, last renewed ${host.heartbeatAt.toISOString()}; ${lease})`
  );
}
