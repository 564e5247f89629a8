/**
 * A Map bounded to `maxEntries`: reading an entry makes it the most recently used, and a set past the bound evicts
 * the least recently used one. Map iteration order is insertion order, so the first key is always the oldest.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();
  private newest: K | undefined;

  constructor(private readonly maxEntries: number) {
    if (!(maxEntries >= 1)) throw new RangeError(`an LRU map holds at least one entry, not ${maxEntries}`);
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    // Look-ups come in runs of one key (the jobs of one expression, one after the other): only move on a change.
    if (value !== undefined && key !== this.newest) this.touch(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.touch(key, value);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
    }
  }

  delete(key: K): boolean {
    if (key === this.newest) this.newest = undefined;
    return this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private touch(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    this.newest = key;
  }
}
