/**
 * Which runs of this host use which bundle version: from the moment a run's code is resolved to the moment its
 * executor is done with it, so a planned run prepared ahead and a queued one count as well as a running one. A
 * bundle version is deleted only through `claim`, which refuses while any run uses it: deleting the folder under a
 * run had failed a thread run with ENOENT and let an exec run lose its files and still end SUCCEEDED.
 */
import type { RunStatus } from '../domain/index.js';

export interface BundleUser {
  readonly runId: string;
  readonly jobId: number;
  /** QUEUED for a run planned or waiting, RUNNING once it started. */
  readonly status: RunStatus;
}

export class BundleRuns {
  /** The sets stay once made: there are a few per bundle version, and a run adds itself without allocating one. */
  private readonly users = new Map<number, Set<BundleUser>>();
  /** Versions claimed by a delete in progress: no run may take them up. */
  private readonly claimed = new Set<number>();

  /** The run uses this version until `release`. False when the version is being deleted: the run must not use it. */
  use(bundleId: number, user: BundleUser): boolean {
    if (this.claimed.has(bundleId)) return false;
    let users = this.users.get(bundleId);
    if (!users) {
      users = new Set();
      this.users.set(bundleId, users);
    }
    users.add(user);
    return true;
  }

  release(bundleId: number, user: BundleUser): void {
    this.users.get(bundleId)?.delete(user);
  }

  /**
   * For a delete: the runs using the version, and nothing claimed, when there are any; otherwise an empty list, and
   * from now on `use` refuses the version until `unclaim` (after the delete, or when it failed).
   */
  claim(bundleId: number): BundleUser[] {
    const users = this.users.get(bundleId);
    if (users && users.size > 0) return [...users].map(({ runId, jobId, status }) => ({ runId, jobId, status }));
    this.claimed.add(bundleId);
    this.users.delete(bundleId);
    return [];
  }

  unclaim(bundleId: number): void {
    this.claimed.delete(bundleId);
  }
}
