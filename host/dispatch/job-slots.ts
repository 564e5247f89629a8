/**
 * Per-job concurrency bookkeeping: what is running and what waits (WAIT policy, FIFO, bounded).
 * Reservations are taken synchronously when a fire is decided, before any await, so two fires that arrive
 * together can never both believe the job is idle.
 */
import type { Concurrency } from '../domain/index.js';

export type Admission = 'start' | 'queue' | 'skip' | 'queue-full';

export interface JobSlot<T> {
  running: number;
  queue: T[];
}

export class JobSlots<T> {
  private readonly slots = new Map<number, JobSlot<T>>();

  /** Decides what a new fire of the job does and reserves the place it takes. */
  admit(jobId: number, policy: Concurrency, maxQueue: number): Admission {
    const slot = this.slot(jobId);
    if (policy === 'ALLOW' || slot.running === 0) {
      slot.running++;
      return 'start';
    }
    if (policy === 'SKIP') return 'skip';
    if (slot.queue.length >= maxQueue) return 'queue-full';
    return 'queue';
  }

  enqueue(jobId: number, item: T): void {
    this.slot(jobId).queue.push(item);
  }

  /** Ends one running run; returns the next queued item (which now counts as running) or undefined. */
  release(jobId: number): T | undefined {
    const slot = this.slots.get(jobId);
    if (!slot) return undefined;
    const next = slot.queue.shift();
    if (next === undefined) {
      slot.running = Math.max(0, slot.running - 1);
      if (slot.running === 0) this.slots.delete(jobId);
    }
    return next;
  }

  /** Removes a queued item (kill of a QUEUED run); true when it was there. */
  dequeue(jobId: number, match: (item: T) => boolean): T | undefined {
    const slot = this.slots.get(jobId);
    if (!slot) return undefined;
    const index = slot.queue.findIndex(match);
    if (index < 0) return undefined;
    return slot.queue.splice(index, 1)[0];
  }

  /** Empties every queue (shutdown); returns what was waiting. */
  drainQueues(): T[] {
    const all: T[] = [];
    for (const slot of this.slots.values()) all.push(...slot.queue.splice(0));
    return all;
  }

  runningCount(jobId: number): number {
    return this.slots.get(jobId)?.running ?? 0;
  }

  queuedCount(jobId: number): number {
    return this.slots.get(jobId)?.queue.length ?? 0;
  }

  private slot(jobId: number): JobSlot<T> {
    let slot = this.slots.get(jobId);
    if (!slot) {
      slot = { running: 0, queue: [] };
      this.slots.set(jobId, slot);
    }
    return slot;
  }
}
