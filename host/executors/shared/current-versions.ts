/**
 * Which bundle version of each project an executor treats as current. Once the host has named it (retired: an
 * upload, an activation, a delete), that version, even when older than one seen since (an older version activated
 * again, a run of the newer one still in flight); until then the newest seen, and seeing a newer one calls onNewer
 * (the executor retires what it holds of older versions). A run of a version that is not current runs on code
 * loaded for it alone, dropped when it ends.
 */
export class CurrentVersions {
  readonly #current = new Map<number, number>();
  readonly #named = new Set<number>();
  readonly #onNewer: (projectId: number, bundleId: number) => void;

  constructor(onNewer: (projectId: number, bundleId: number) => void) {
    this.#onNewer = onNewer;
  }

  isCurrent(projectId: number, bundleId: number): boolean {
    const current = this.#current.get(projectId);
    if (current === bundleId) return true;
    if (this.#named.has(projectId) || (current !== undefined && bundleId < current)) return false;
    this.#current.set(projectId, bundleId);
    if (current !== undefined) this.#onNewer(projectId, bundleId);
    return true;
  }

  /** The host retired every version but keepBundleId (null: the project's code is gone). */
  retired(projectId: number, keepBundleId: number | null): void {
    if (keepBundleId === null) {
      this.#current.delete(projectId);
      this.#named.delete(projectId);
    } else {
      this.#current.set(projectId, keepBundleId);
      this.#named.add(projectId);
    }
  }
}
