/** A host as the hosts table knows it: its identity and its lease on the database. */

/** ACTIVE while held; STOPPED after a clean stop; DEAD once another host took over its expired lease. */
export type HostState = 'ACTIVE' | 'STOPPED' | 'DEAD';

/** Who a host is, as its row in the hosts table says it. */
export interface HostIdentity {
  hostId: string;
  /** Random per start: two processes given one host id are told apart. */
  instance: string;
  pid: number;
  hostname: string;
  version: string;
  dataDir: string;
}

/** A host's lease on the database (the seed of cluster membership), read with the database's clock. */
export interface HostRecord extends HostIdentity {
  /** The database's lease generation when this instance took its lease: a later holder has a higher one. */
  epoch: number;
  state: HostState;
  leaseUntil: Date;
  heartbeatAt: Date;
  startedAt: Date;
  /** ACTIVE and leaseUntil not passed, by the database's clock when read. */
  live: boolean;
  /** leaseUntil minus the database's clock when read (negative once expired). */
  leaseLeftMs: number;
}

export type LeaseClaim =
  | { ok: true; host: HostRecord; takenOver: HostRecord[] }
  | { ok: false; holder: HostRecord };
