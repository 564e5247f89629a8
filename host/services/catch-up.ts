/**
 * Fires that got no row because of the database (it did not answer, or was too far behind: dispatch noted them in
 * `dispatcher.missed`) are handed back to the schedule once it takes rows again, under each job's misfire policy, the
 * way a restart handles the fires it missed: `fireOnce` runs the first missed fire time, `fireAll` each of them,
 * `skip` none. What is not run is counted as missed (metrics and the host log), and so is every fire of a job that
 * left the schedule meanwhile.
 */
import { catchUpTimes } from '../dispatch/missed-fires.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import { serializeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/types.js';
import type { Engine } from './engine.js';

/** How often the catch-up looks again while fires are noted (no timer runs while none is: an idle host stays idle). */
const CHECK_EVERY_MS = 1_000;
/** The database must be this close to keeping up before catch-up runs add rows to it. */
const MAX_LAG_MS = 1_000;

export class MissedFireCatchUp {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(private readonly deps: { store: Store; dispatcher: Dispatcher; engine: Engine; logger: Logger }) {}

  start(): void {
    const { missed } = this.deps.dispatcher;
    missed.onFirstNoted = () => this.#arm();
    if (missed.size > 0) this.#arm();
  }

  async stop(): Promise<void> {
    this.deps.dispatcher.missed.onFirstNoted = null;
    this.#disarm();
    await this.#running;
  }

  #arm(): void {
    this.#timer ??= setInterval(() => void this.check(), CHECK_EVERY_MS);
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Runs a catch-up when fires are noted and the database takes rows; resolves when it is done. */
  check(): Promise<void> {
    const { store, dispatcher } = this.deps;
    if (!this.#running && dispatcher.missed.size === 0) this.#disarm();
    if (this.#running || dispatcher.missed.size === 0 || !store.health.up || store.runWriter.lagMs >= MAX_LAG_MS) {
      return this.#running ?? Promise.resolve();
    }
    this.#running = this.#catchUp().finally(() => (this.#running = null));
    return this.#running;
  }

  async #catchUp(): Promise<void> {
    const { store, dispatcher, engine, logger } = this.deps;
    const taken = dispatcher.missed.take();
    let records;
    try {
      records = new Map((await store.jobs.getMany([...taken.keys()].filter((id) => engine.isScheduled(id)))).map((job) => [job.id, job]));
    } catch (err) {
      // The database went away again: the fires wait for the next time it answers.
      if (store.health.failed(err)) dispatcher.missed.restore(taken);
      else logger.error('could not catch up fires the database did not record', { error: serializeError(err).message });
      return;
    }
    let runs = 0;
    let missed = 0;
    const started: Promise<unknown>[] = [];
    for (const [jobId, entry] of taken) {
      const job = records.get(jobId);
      const times = job ? catchUpTimes(job.misfire, entry) : [];
      missed += entry.count - times.length;
      runs += times.length;
      for (const scheduledAt of times) started.push(engine.trigger(job!, 'SCHEDULE', 'system', { scheduledAt }));
    }
    dispatcher.missed.caughtUp += runs;
    dispatcher.missed.missed += missed;
    logger.warn('fires the database could not record are caught up under their misfire policies', { jobs: taken.size, catchUpRuns: runs, missed });
    const failed = (await Promise.allSettled(started)).filter((r) => r.status === 'rejected');
    if (failed.length > 0) logger.error('catch-up runs failed', { runs: failed.length, error: String((failed[0] as PromiseRejectedResult).reason) });
  }
}
