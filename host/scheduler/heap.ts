/**
 * A binary min-heap of (fireAt ms, jobId), one entry per job, ordered by fire time then job id (so equal fire times
 * come out in a stable order). An index map from job id to heap slot makes remove and replace O(log n).
 */
export interface HeapEntry {
  readonly fireAt: number;
  readonly jobId: number;
}

export class FireHeap {
  private readonly entries: HeapEntry[] = [];
  private readonly slots = new Map<number, number>();

  get size(): number {
    return this.entries.length;
  }

  has(jobId: number): boolean {
    return this.slots.has(jobId);
  }

  /** The fire time held for a job, or undefined. */
  fireAtOf(jobId: number): number | undefined {
    const slot = this.slots.get(jobId);
    return slot === undefined ? undefined : this.entries[slot]?.fireAt;
  }

  /** Inserts the job, or moves it to its new fire time when it is already there. */
  upsert(jobId: number, fireAt: number): void {
    const slot = this.slots.get(jobId);
    if (slot === undefined) {
      this.entries.push({ fireAt, jobId });
      this.slots.set(jobId, this.entries.length - 1);
      this.siftUp(this.entries.length - 1);
      return;
    }
    this.entries[slot] = { fireAt, jobId };
    this.siftUp(slot);
    this.siftDown(slot);
  }

  /** Removes the job's entry; false when it had none. */
  remove(jobId: number): boolean {
    const slot = this.slots.get(jobId);
    if (slot === undefined) return false;
    this.slots.delete(jobId);
    const last = this.entries.pop() as HeapEntry;
    if (slot < this.entries.length) {
      this.entries[slot] = last;
      this.slots.set(last.jobId, slot);
      this.siftUp(slot);
      this.siftDown(slot);
    }
    return true;
  }

  /**
   * The n earliest entries that `accept` takes, earliest first: one pass keeping a short sorted list (n is a page of
   * a dashboard, the heap may hold every job).
   */
  earliest(n: number, accept: (jobId: number) => boolean = () => true): HeapEntry[] {
    const kept: HeapEntry[] = [];
    if (n <= 0) return kept;
    for (const entry of this.entries) {
      const last = kept[kept.length - 1];
      if (kept.length === n && last && !before(entry, last)) continue;
      if (!accept(entry.jobId)) continue;
      let at = kept.length;
      while (at > 0 && before(entry, kept[at - 1]!)) at--;
      kept.splice(at, 0, entry);
      if (kept.length > n) kept.pop();
    }
    return kept;
  }

  peek(): HeapEntry | undefined {
    return this.entries[0];
  }

  pop(): HeapEntry | undefined {
    const top = this.entries[0];
    if (top) this.remove(top.jobId);
    return top;
  }

  private siftUp(start: number): void {
    let slot = start;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if (!this.less(slot, parent)) break;
      this.swap(slot, parent);
      slot = parent;
    }
  }

  private siftDown(start: number): void {
    let slot = start;
    const n = this.entries.length;
    for (;;) {
      const left = 2 * slot + 1;
      const right = left + 1;
      let smallest = slot;
      if (left < n && this.less(left, smallest)) smallest = left;
      if (right < n && this.less(right, smallest)) smallest = right;
      if (smallest === slot) return;
      this.swap(slot, smallest);
      slot = smallest;
    }
  }

  private less(a: number, b: number): boolean {
    const x = this.entries[a] as HeapEntry;
    const y = this.entries[b] as HeapEntry;
    return x.fireAt < y.fireAt || (x.fireAt === y.fireAt && x.jobId < y.jobId);
  }

  private swap(a: number, b: number): void {
    const x = this.entries[a] as HeapEntry;
    const y = this.entries[b] as HeapEntry;
    this.entries[a] = y;
    this.entries[b] = x;
    this.slots.set(y.jobId, a);
    this.slots.set(x.jobId, b);
  }
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a.fireAt < b.fireAt || (a.fireAt === b.fireAt && a.jobId < b.jobId);
}
