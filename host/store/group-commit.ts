/**
 * Group commit for small rows written one per request (job events): calls made while a write is in flight, or in
 * the same tick, share the next write, and each call settles when its own row is committed. On SQLite every write
 * passes one gate, so a REST trigger's event written alone queued behind the others and held up the run rows too.
 */
export class GroupCommit<T> {
  private queue: { item: T; resolve(): void; reject(err: unknown): void }[] = [];
  private running: Promise<void> | null = null;
  private scheduled = false;

  /** `writeMany` writes its items in one statement; a failed batch is written again item by item. */
  constructor(
    private readonly writeMany: (items: T[]) => Promise<void>,
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.queue.push({ item, resolve, reject }));
    if (!this.running && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.start();
      });
    }
    return done;
  }

  /** Settles once everything added so far is written. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.running) await (this.running ?? this.start());
  }

  private start(): Promise<void> {
    this.running ??= this.drain();
    return this.running;
  }

  private async drain(): Promise<void> {
    // One tick first, so that `running` is set before this can end.
    await Promise.resolve();
    for (;;) {
      if (this.queue.length === 0) {
        // In the same microtask as the check: an add() after it starts a new drain, one before it is written here.
        this.running = null;
        return;
      }
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        await this.writeMany(batch.map((entry) => entry.item));
        for (const entry of batch) entry.resolve();
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err);
        // One bad row must not fail the others: they go one by one, and only the bad one rejects.
        else for (const entry of batch) await this.writeMany([entry.item]).then(entry.resolve, entry.reject);
      }
    }
  }
}
