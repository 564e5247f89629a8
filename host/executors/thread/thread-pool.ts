/**
 * One thread pool: the workers of one (project, bundle version, memory limit). Up to `maxWorkers` workers, started
 * on demand and ended after `idleTimeoutMs` without runs; each serves up to `runsPerWorker` runs at once, and runs
 * beyond that wait here in FIFO order. A run goes to the least-loaded ready worker that is not blocked; a worker that
 * dies is replaced by the next run that needs one.
 *
 * While runs are due the pool reads its workers' vitals every WATCH_MS (vitals.ts); while its runs only wait for their
 * start times (planned fires handed over early) it sleeps until the first is due. A blocked worker gets no
 * runs, and the runs it had not started come back here and go to another worker; while one is blocked the pool may
 * start one worker beyond maxWorkers. When every worker it may have is blocked, runs wait here until one answers
 * again or is ended. A worker that ends hands back the runs it had not started too.
 */
import type { Logger } from '../../log/logger.js';
import type { RunHooks } from '../shared/executor.js';
import type { ThreadRun, ThreadTaskResult } from '../shared/run-protocol.js';
import { LOST_RUN_CODES, lostRunError } from './thread-errors.js';
import { WorkerHandle, type RunSettle, type StartItem } from './thread-handle.js';
import { LATE_MS, MAX_MOVES, WATCH_MS } from '../shared/vitals.js';

export interface ThreadPoolOptions {
  readonly mainUrl: string;
  readonly env: Readonly<Record<string, string>>;
  readonly memoryLimitMb: number;
  readonly maxWorkers: number;
  readonly runsPerWorker: number;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
}

/** A run handed to the pool. */
export interface PoolRun {
  /** Resolves with the worker's result; rejects (with a LOST_RUN_CODES code) when the run was lost. */
  readonly result: Promise<ThreadTaskResult>;
  /** Waiting: dropped (RUN_ABORTED). In flight: its job is told (ctx.signal). */
  abort(reason: string): void;
  /** In flight: terminates its worker (the run ends RUN_KILLED, its neighbours WORKER_RESTARTED). */
  kill(): void;
}

/**
 * A run handed to the pool: where it waits or runs, how it is settled, and the caller's handle on it (PoolRun). One
 * object per run: the handle had been an object and two closures more.
 */
class Ticket implements RunSettle, PoolRun {
  worker: Worker | null = null;
  /** Times it was handed back unstarted by a blocked or ended worker. */
  moves = 0;
  resolve!: (result: ThreadTaskResult) => void;
  reject!: (err: Error) => void;
  readonly result: Promise<ThreadTaskResult>;

  constructor(
    readonly pool: ThreadPool,
    readonly run: ThreadRun,
    readonly hooks: RunHooks,
    readonly made: StartItem | undefined,
  ) {
    this.result = new Promise<ThreadTaskResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  abort(reason: string): void {
    this.pool.abortTicket(this, reason);
  }

  kill(): void {
    this.worker?.kill(this.run.runId);
  }
}

type Worker = WorkerHandle<Ticket>;

export class ThreadPool {
  readonly #options: ThreadPoolOptions;
  #workers: Worker[] = [];
  readonly #exiting = new Set<Promise<void>>();
  readonly #idle = new Map<Worker, NodeJS.Timeout>();
  #queue: Ticket[] = [];
  #closed = false;
  /** Reads the workers' vitals while runs are due; stops itself when none are. */
  #watch: NodeJS.Timeout | null = null;
  /** While every run in flight waits for its start time: the timer that starts the watch when the first is due. */
  #dueTimer: NodeJS.Timeout | null = null;

  constructor(options: ThreadPoolOptions) {
    this.#options = options;
  }

  /** `made`: the run's start item serialised ahead (thread-handle startItem), or made when it is sent. */
  run(run: ThreadRun, hooks: RunHooks, made?: StartItem): PoolRun {
    const ticket = new Ticket(this, run, hooks, made);
    if (this.#closed) ticket.reject(lostRunError({ kind: 'closed' }, run.runId, 1));
    else {
      this.#queue.push(ticket);
      this.#place();
    }
    return ticket;
  }

  /** Sends what is waiting in the workers' batches now instead of at the end of the macrotask. */
  flush(): void {
    for (const worker of this.#workers) worker.flush();
  }

  /** Live threads, counting those still shutting down. */
  threadCount(): number {
    return this.#workers.length + this.#exiting.size;
  }

  /** Terminates every worker; waiting and in-flight runs are lost as closed. Resolves once every thread is gone. */
  async destroy(): Promise<void> {
    this.#closed = true;
    this.#stopWatch();
    const queued = this.#queue;
    this.#queue = [];
    for (const ticket of queued) ticket.reject(lostRunError({ kind: 'closed' }, ticket.run.runId, 1));
    for (const worker of [...this.#workers]) this.#retireWorker(worker);
    await Promise.all([...this.#exiting]);
  }

  /** A ticket's abort(): waiting, it is dropped (RUN_ABORTED); on a worker, its job is told. */
  abortTicket(ticket: Ticket, reason: string): void {
    if (ticket.worker) {
      ticket.worker.abort(ticket.run.runId, reason);
      return;
    }
    const at = this.#queue.indexOf(ticket);
    if (at < 0) return;
    this.#queue.splice(at, 1);
    ticket.reject(Object.assign(new Error(`run aborted before it started: ${reason}`), { code: LOST_RUN_CODES.abortedQueued }));
  }

  /** Hands waiting runs to workers, in order, while any ready worker has room. */
  #place(): void {
    let next = 0;
    while (next < this.#queue.length) {
      const worker = this.#pick();
      if (!worker) break;
      const ticket = this.#queue[next++];
      ticket.worker = worker;
      this.#wake(worker);
      worker.start(ticket.run, ticket.hooks, ticket, ticket.made);
    }
    if (next > 0) {
      // Emptied in place: a new array per placed run was garbage on every fire.
      if (next === this.#queue.length) this.#queue.length = 0;
      else this.#queue = this.#queue.slice(next);
      // Not watching: from the first run's start time (the runs just placed may be due before a sleep's end).
      if (!this.#watch) {
        const now = Date.now();
        this.#watchFrom(this.#firstDueAt(now), now);
      }
    }
  }

  /**
   * The least-loaded ready worker with room that is not blocked; starts another worker when none is free and the
   * pool may grow: up to maxWorkers, and one more while any of them is blocked.
   */
  #pick(): Worker | null {
    let best: Worker | null = null;
    let starting = false;
    let blocked = false;
    for (const worker of this.#workers) {
      if (!worker.ready) starting = true;
      else if (worker.blocked) blocked = true;
      else if (worker.load < this.#options.runsPerWorker && (!best || worker.load < best.load)) best = worker;
    }
    const cap = this.#options.maxWorkers + (blocked ? 1 : 0);
    if ((!best || best.load > 0) && !starting && this.#workers.length < cap) this.#spawn();
    return best;
  }

  #spawn(): void {
    const { mainUrl, memoryLimitMb, runsPerWorker, logger } = this.#options;
    const worker: Worker = new WorkerHandle<Ticket>({
      data: { mainUrl },
      env: this.#options.env,
      memoryLimitMb,
      slots: runsPerWorker,
      logger,
      onChange: (w) => this.#onChange(w),
      onUnstarted: (_, tickets) => this.#requeue(tickets),
    });
    this.#workers.push(worker);
  }

  /** Runs a worker handed back unstarted go first in the queue, in their order (the caller re-plans). */
  #requeue(tickets: Ticket[]): void {
    const again: Ticket[] = [];
    for (const ticket of tickets) {
      ticket.worker = null;
      if (this.#closed) ticket.reject(lostRunError({ kind: 'closed' }, ticket.run.runId, 1));
      else if (++ticket.moves > MAX_MOVES) {
        const message = `the run could not start: ${MAX_MOVES} workers in a row were blocked or ended before it started`;
        ticket.reject(Object.assign(new Error(message), { code: LOST_RUN_CODES.restarted }));
      } else again.push(ticket);
    }
    if (again.length > 0) this.#queue = again.concat(this.#queue);
  }

  /** When the first run in flight is due (`now` while runs wait in the queue; Infinity for none). */
  #firstDueAt(now: number): number {
    let dueAt = this.#queue.length > 0 ? now : Infinity;
    for (const worker of this.#workers) if (worker.load > 0) dueAt = Math.min(dueAt, worker.firstDueAt(now));
    return dueAt;
  }

  /**
   * Watches every WATCH_MS from now, or sleeps until `dueAt` when that is LATE_MS or more away: then the first read
   * starts each worker's silence clock again (vitals.ts), so a worker's silence counts from its first run's start
   * time, not from before it.
   */
  #watchFrom(dueAt: number, now: number): void {
    this.#stopWatch();
    if (dueAt === Infinity) return;
    if (dueAt - now < LATE_MS) {
      this.#watch = this.#startWatch();
      return;
    }
    this.#dueTimer = setTimeout(() => {
      this.#dueTimer = null;
      this.#watch = this.#startWatch();
      this.#inspect();
    }, dueAt - now);
    this.#dueTimer.unref();
  }

  #startWatch(): NodeJS.Timeout {
    const timer = setInterval(() => this.#inspect(), WATCH_MS);
    timer.unref();
    return timer;
  }

  #stopWatch(): void {
    if (this.#watch) clearInterval(this.#watch);
    if (this.#dueTimer) clearTimeout(this.#dueTimer);
    this.#watch = null;
    this.#dueTimer = null;
  }

  /**
   * Reads every worker's vitals; the watch stops once no run is in flight, and sleeps while every run in flight waits
   * for a start time LATE_MS away or more (a worker does not beat then: worker-vitals.ts). No job code runs for a
   * waiting run, so there is nothing to watch; a worker that is stuck at the start time is seen from then on.
   */
  #inspect(): void {
    const now = Date.now();
    let busy = this.#queue.length > 0;
    let dueAt = busy ? now : Infinity;
    for (const worker of [...this.#workers]) {
      const due = worker.inspect(now);
      if (worker.load === 0) continue;
      busy = true;
      dueAt = Math.min(dueAt, due);
    }
    if (!busy) this.#stopWatch();
    else if (dueAt - now >= LATE_MS) this.#watchFrom(dueAt, now);
  }

  #onChange(worker: Worker): void {
    if (worker.ended) this.#onEnded(worker);
    else if (worker.load === 0) this.#sleep(worker);
    if (!this.#closed) this.#place();
  }

  #onEnded(worker: Worker): void {
    const wasListed = this.#workers.includes(worker);
    this.#forget(worker);
    const end = worker.endReason;
    // A worker that died before it could take runs would die again: fail the waiting runs instead of looping. No run
    // had started: what ended it is the bundle's main as it loaded, so each run fails with that deed as its own.
    if (wasListed && end && !worker.everReady && this.#workers.length === 0) {
      const queued = this.#queue;
      this.#queue = [];
      for (const ticket of queued) {
        const runId = ticket.run.runId;
        ticket.reject(lostRunError('culprit' in end ? { ...end, culprit: runId } : end, runId, 1));
      }
    }
  }

  /** An idle worker ends after idleTimeoutMs unless a run comes first. */
  #sleep(worker: Worker): void {
    if (this.#idle.has(worker) || this.#closed) return;
    const timer = setTimeout(() => {
      this.#idle.delete(worker);
      if (worker.load === 0) this.#retireWorker(worker);
    }, this.#options.idleTimeoutMs);
    timer.unref();
    this.#idle.set(worker, timer);
  }

  #wake(worker: Worker): void {
    const timer = this.#idle.get(worker);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#idle.delete(worker);
  }

  #retireWorker(worker: Worker): void {
    this.#forget(worker);
    void worker.terminate();
  }

  /** Out of the routing at once; counted as a thread until it has exited. */
  #forget(worker: Worker): void {
    this.#wake(worker);
    const at = this.#workers.indexOf(worker);
    if (at < 0) return;
    this.#workers.splice(at, 1);
    const exited = worker.exited.then(() => {
      this.#exiting.delete(exited);
    });
    this.#exiting.add(exited);
  }
}
