/** A project: the unit of ownership and trust that owns bundles and jobs. */

export interface ProjectRecord {
  id: number;
  name: string;
  description: string;
  ownerId: number;
  currentBundleId: number | null;
  /**
   * Set by an admin: only a trusted project may run thread, module or exec code (it runs as the host's user);
   * an untrusted one runs isolate jobs only (docs/isolation.md, "Trust").
   */
  trusted: boolean;
  createdAt: Date;
  updatedAt: Date;
}
