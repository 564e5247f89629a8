/**
 * Runs as users see them: lists, one run by its UUID, its log (finished, live, or followed), and kill.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { LogIndex } from '../dispatch/types.js';
import { badRequest, conflict, notFound } from '../errors/index.js';
import { FINAL_RUN_STATUSES, RUN_TRIGGERS, type RunRecord, type RunStatus, type RunTrigger } from '../domain/index.js';
import { type Page, type Store } from '../store/types.js';
import type { Access } from './access.js';
import type { Actor } from './auth.js';
import type { Engine } from './engine.js';
import { optionalId, parseDate, wholeNumber } from './input.js';

export interface LiveLog {
  text: string;
  subscribe(onLine: (line: string) => void, onEnd: () => void): () => void;
}

export interface RunLogReader {
  read(index: LogIndex): Promise<string>;
  live(runId: string): LiveLog | null;
}

export interface RunServiceDeps {
  store: Store;
  access: Access;
  dispatcher: Dispatcher;
  engine: Engine;
  logs: RunLogReader;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const STATUSES: readonly RunStatus[] = ['QUEUED', 'RUNNING', ...FINAL_RUN_STATUSES];

export function assertRunId(runId: string): string {
  if (!UUID.test(runId)) throw badRequest('runId must be a UUID', 'runId');
  return runId.toLowerCase();
}

export class RunService {
  constructor(private readonly deps: RunServiceDeps) {}

  async list(actor: Actor, q: Record<string, string | undefined>): Promise<Page<RunRecord>> {
    const jobId = optionalId(q.jobId, 'jobId');
    const projectId = optionalId(q.projectId, 'projectId');
    const status = q.status?.split(',').map((s) => {
      if (!STATUSES.includes(s as RunStatus)) throw badRequest(`status must be one or more of ${STATUSES.join(', ')}`, 'status');
      return s as RunStatus;
    });
    const trigger = q.trigger?.split(',').map((t) => {
      if (!RUN_TRIGGERS.includes(t as RunTrigger)) throw badRequest(`trigger must be one or more of ${RUN_TRIGGERS.join(', ')}`, 'trigger');
      return t as RunTrigger;
    });
    const limit = q.limit === undefined ? 50 : wholeNumber(q.limit, 'limit', 1, 1000);
    const from = q.from ? parseDate(q.from, 'from') : undefined;
    const to = q.to ? parseDate(q.to, 'to') : undefined;
    const projectIds = await this.deps.access.readScope(actor, { jobId, projectId });
    return this.deps.store.runs.list({ jobId, projectIds, status, trigger, from, to, limit, cursor: q.cursor });
  }

  async get(actor: Actor, runId: string): Promise<RunRecord> {
    const run = await this.deps.store.runs.get(assertRunId(runId));
    if (!run) throw notFound(`run ${runId}`);
    const project = await this.deps.store.projects.get(run.projectId);
    if (!project || !this.deps.access.canSee(actor, project)) throw notFound(`run ${runId}`);
    return run;
  }

  /** The whole log of a finished run, or what a running run has logged so far. */
  async log(actor: Actor, runId: string): Promise<string> {
    const run = await this.get(actor, runId);
    const live = this.deps.logs.live(run.runId);
    if (live) return live.text;
    const stored = run.logFile || FINAL_RUN_STATUSES.includes(run.status) ? run : await this.settled(run);
    if (stored.logFile && stored.logOffset !== null && stored.logLength !== null) {
      return this.deps.logs.read({ file: stored.logFile, offset: stored.logOffset, length: stored.logLength });
    }
    return '';
  }

  /**
   * A run whose row is not final yet, and that no longer runs here, may have just ended: its live log is gone and its
   * final row, which says where the log went, may still wait in the writer (store/run-writer.ts). That row is
   * committed first (2 s at most), then read again, so a log read right after a run's end is not empty.
   */
  private async settled(run: RunRecord): Promise<RunRecord> {
    if (this.deps.dispatcher.isActive(run.runId)) return run;
    await this.recorded(run.runId);
    return (await this.deps.store.runs.get(run.runId)) ?? run;
  }

  /** A stream of the log that stays open while the run goes on and ends when it ends. */
  async follow(actor: Actor, runId: string): Promise<Readable> {
    const run = await this.get(actor, runId);
    const out = new PassThrough();
    const attach = async (): Promise<void> => {
      for (let waited = 0; ; waited += 100) {
        const live = this.deps.logs.live(run.runId);
        if (live) {
          out.write(live.text);
          const unsubscribe = live.subscribe(
            (line) => out.write(line.endsWith('\n') ? line : `${line}\n`),
            () => void this.recorded(run.runId).then(() => out.end()),
          );
          out.on('close', unsubscribe);
          return;
        }
        if (!this.deps.dispatcher.isActive(run.runId) || out.destroyed || waited > 24 * 3600_000) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      out.end(await this.log(actor, runId));
    };
    attach().catch((err) => out.destroy(err as Error));
    return out;
  }

  /**
   * Settles once the run's final row is committed (or after 2 s of a database that does not answer), so that whoever
   * saw its log end reads the run ended: the log ends before the final row is queued, and the writer lets a final
   * row wait a few milliseconds for company (store/run-writer.ts).
   */
  private async recorded(runId: string): Promise<void> {
    await this.deps.dispatcher.ended(runId);
    await this.deps.store.runWriter.flush(2_000);
  }

  async kill(actor: Actor, runId: string): Promise<RunRecord> {
    const run = await this.get(actor, runId);
    await this.deps.access.writableJob(actor, run.jobId).catch(() => this.deps.access.writableProject(actor, run.projectId));
    if (FINAL_RUN_STATUSES.includes(run.status) && !this.deps.dispatcher.isActive(run.runId)) {
      throw conflict(`run ${run.runId} has already ended (${run.status})`);
    }
    if (!this.deps.dispatcher.kill(run.runId)) throw conflict(`run ${run.runId} is not running on this host`);
    const job = await this.deps.store.jobs.get(run.jobId);
    if (job) await this.deps.engine.event(job, 'killed', actor.username, { runId: run.runId });
    return run;
  }
}
