/**
 * `jobcenter-sdk runs`, `logs` and `kill`: what ran on a host, what a run logged (or is logging), and stopping one.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { CliError, flag, parse, positiveInt, str, type Options } from './args.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connect, FINAL_STATUSES, projectOption, writeJson, type JobRow, type Operator, type RunRow } from './operate.js';
import { duration, time, writeTable } from './table.js';

export const RUNS_HELP = `Usage: jobcenter-sdk runs [--job JOB] [--project ID|NAME] [--status S] [--limit N] [--json] [--host URL] [--token T]

Lists runs, newest first: run id, job, status, trigger, start, duration and result (or error). JOB is a job id or
name; --status takes one status or several with commas (QUEUED, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, KILLED,
SKIPPED, INTERRUPTED); --limit is how many runs to show (default 20).
${CONNECTION_HELP}`;

export const LOGS_HELP = `Usage: jobcenter-sdk logs RUN_ID [--follow] [--host URL] [--token T]

Prints the run's log as the host keeps it. With --follow, keeps printing what a running run logs until it ends,
then says on stderr how it ended. The host and token come from --host / --token (or env JOBCENTER_TOKEN), else
from \`jobcenter-sdk login\`.`;

export const KILL_HELP = `Usage: jobcenter-sdk kill RUN_ID [--json] [--host URL] [--token T]

Kills a queued or running run: it ends KILLED. A run that has already ended answers 409.
${CONNECTION_HELP}`;

const RUNS_OPTIONS: Options = { ...CONNECTION_OPTIONS, job: { type: 'string' }, project: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' } };
const LOGS_OPTIONS: Options = { host: { type: 'string' }, token: { type: 'string' }, follow: { type: 'boolean', short: 'f' } };
const DEFAULT_LIMIT = 20;
/** The most runs the host gives in one page. */
const PAGE_LIMIT = 1000;
/** How often --wait asks whether a run whose log stream has closed has been recorded as ended. */
const END_POLL_MS = 250;

export async function runsCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const p = parse('runs', argv, RUNS_OPTIONS);
  if (p.values.help) return void out.write(`${RUNS_HELP}\n`), 0;
  if (p.positionals.length > 0) throw new CliError(`runs takes no arguments, got "${p.positionals[0]}" (for one job's runs: --job JOB)`);
  const limit = positiveInt(p, 'limit') ?? DEFAULT_LIMIT;
  const op = await connect(p);
  const projectId = await projectOption(op, p);
  const jobRef = str(p, 'job');
  const job = jobRef === undefined ? undefined : await op.job(jobRef, projectId);
  const filter = {
    ...(job ? { jobId: String(job.id) } : projectId === undefined ? {} : { projectId: String(projectId) }),
    ...(str(p, 'status') === undefined ? {} : { status: str(p, 'status')!.toUpperCase() }),
  };
  const runs = await newestRuns(op, filter, limit);
  if (flag(p, 'json')) return writeJson(out, runs), 0;
  const jobNames = job ? new Map([[job.id, job.name]]) : runs.length === 0 ? new Map<number, string>() : new Map((await op.all<JobRow>('/api/v1/jobs')).map((j) => [j.id, j.name]));
  const rows = runs.map((r) => [r.runId, jobNames.get(r.jobId) ?? String(r.jobId), r.status, r.trigger, time(r.startedAt ?? r.scheduledAt), duration(r.durationMs), summary(r)]);
  writeTable(out, ['RUN ID', 'JOB', 'STATUS', 'TRIGGER', 'STARTED', 'TOOK', 'RESULT'], rows, 'no runs');
  return 0;
}

export async function logsCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const p = parse('logs', argv, LOGS_OPTIONS);
  if (p.values.help) return void out.write(`${LOGS_HELP}\n`), 0;
  const runId = oneRunId('logs', p.positionals);
  const op = await connect(p);
  const follow = flag(p, 'follow');
  await op.stream(`/api/v1/runs/${encodeURIComponent(runId)}/log${follow ? '?follow=1' : ''}`, (text) => out.write(text), noRun(runId));
  if (follow) err.write(`${runOutcome(await op.json<RunRow>('GET', `/api/v1/runs/${encodeURIComponent(runId)}`))}\n`);
  return 0;
}

export async function killCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const p = parse('kill', argv, CONNECTION_OPTIONS);
  if (p.values.help) return void out.write(`${KILL_HELP}\n`), 0;
  const runId = oneRunId('kill', p.positionals);
  const op = await connect(p);
  const answer = await op.json<{ runId: string }>('POST', `/api/v1/runs/${encodeURIComponent(runId)}/kill`, undefined, noRun(runId));
  if (flag(p, 'json')) return writeJson(out, answer), 0;
  out.write(`killing run ${answer.runId} (it ends KILLED; see: jobcenter-sdk runs)\n`);
  return 0;
}

/**
 * The run once it has ended. The followed log closes when the run ends; a run that another host of a cluster
 * runs has no live log here, so the run's record is asked again until it says the run has ended.
 */
export async function waitForEnd(op: Operator, runId: string): Promise<RunRow> {
  await op.stream(`/api/v1/runs/${encodeURIComponent(runId)}/log?follow=1`, () => {}, noRun(runId));
  for (;;) {
    const run = await op.json<RunRow>('GET', `/api/v1/runs/${encodeURIComponent(runId)}`, undefined, noRun(runId));
    if (FINAL_STATUSES.includes(run.status)) return run;
    await delay(END_POLL_MS);
  }
}

/** `run … SUCCEEDED after 1.2s: result`, or the error for a run that did not succeed. */
export function runOutcome(run: RunRow): string {
  if (!FINAL_STATUSES.includes(run.status)) return `run ${run.runId} is ${run.status}`;
  const text = summary(run);
  return `run ${run.runId} ${run.status}${run.durationMs === null ? '' : ` after ${duration(run.durationMs)}`}${text ? `: ${text}` : ''}`;
}

/** Up to `limit` runs, newest first, across the host's pages. */
async function newestRuns(op: Operator, filter: Record<string, string>, limit: number): Promise<RunRow[]> {
  const runs: RunRow[] = [];
  for (let cursor: string | null = null; runs.length < limit; ) {
    const query = new URLSearchParams({ ...filter, limit: String(Math.min(limit - runs.length, PAGE_LIMIT)), ...(cursor === null ? {} : { cursor }) });
    const page: { items: RunRow[]; nextCursor: string | null } = await op.json('GET', `/api/v1/runs?${query}`);
    runs.push(...page.items);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return runs;
}

function summary(run: RunRow): string {
  return run.status === 'SUCCEEDED' ? (run.result ?? '') : (run.error?.message ?? run.result ?? '');
}

function oneRunId(command: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new CliError(`${command} needs one RUN_ID (the run ids are in: jobcenter-sdk runs)\n(see: jobcenter-sdk ${command} --help)`);
  return positionals[0]!;
}

function noRun(runId: string): string {
  return `no run ${runId} that you can see (list them: jobcenter-sdk runs)`;
}
