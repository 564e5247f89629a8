/**
 * `jobcenter-sdk jobs` and `jobcenter-sdk trigger`: the jobs on a host, and a run of one now.
 */
import { CliError, flag, json, parse, str, type Options } from './args.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connect, projectOption, writeJson, type JobRow } from './operate.js';
import { runOutcome, waitForEnd } from './operate-runs.js';
import { time, writeTable } from './table.js';

export const JOBS_HELP = `Usage: jobcenter-sdk jobs [--project ID|NAME] [--q TEXT] [--json] [--host URL] [--token T]

Lists the jobs you can see on the host: id, project, name, kind, state, schedule and next fire time (and run
counts and the last run, when the host reports them). --project keeps one project's jobs, --q the jobs whose
name contains TEXT.
${CONNECTION_HELP}`;

export const TRIGGER_HELP = `Usage: jobcenter-sdk trigger JOB [--params JSON] [--project ID|NAME] [--wait] [--json] [--host URL] [--token T]

Starts a run of JOB now (a MANUAL run) and prints its run id. JOB is a job id (all digits) or a job name; a name
that jobs of several projects share is refused with the candidates: give the id, or --project. --params replaces
the job's params for this run only, e.g. --params '{"name":"Ada"}'. With --wait, waits for the run to end and
prints how it ended; the exit code is then 1 unless the run SUCCEEDED.
${CONNECTION_HELP}`;

const JOBS_OPTIONS: Options = { ...CONNECTION_OPTIONS, project: { type: 'string' }, q: { type: 'string' } };
const TRIGGER_OPTIONS: Options = { ...CONNECTION_OPTIONS, project: { type: 'string' }, params: { type: 'string' }, wait: { type: 'boolean' } };

export async function jobsCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const p = parse('jobs', argv, JOBS_OPTIONS);
  if (p.values.help) return void out.write(`${JOBS_HELP}\n`), 0;
  if (p.positionals.length > 0) throw new CliError(`jobs takes no arguments, got "${p.positionals[0]}" (to search by name: --q TEXT)`);
  const op = await connect(p);
  const projectId = await projectOption(op, p);
  const q = str(p, 'q');
  const query = new URLSearchParams({ ...(projectId === undefined ? {} : { projectId: String(projectId) }), ...(q === undefined ? {} : { q }) });
  // A host that does not know ?q= answers every job: the name filter is applied here as well.
  const jobs = (await op.all<JobRow>(`/api/v1/jobs${query.size > 0 ? `?${query}` : ''}`)).filter((j) => q === undefined || j.name.toLowerCase().includes(q.toLowerCase()));
  if (flag(p, 'json')) return writeJson(out, jobs), 0;
  const names = await op.projectNames();
  const withRuns = jobs.some((j) => j.runCounts !== undefined || j.lastRun !== undefined);
  const header = ['ID', 'PROJECT', 'NAME', 'KIND', 'STATE', 'SCHEDULE', 'NEXT FIRE', ...(withRuns ? ['RUNS', 'LAST RUN'] : [])];
  const rows = jobs.map((j) => [
    String(j.id),
    names.get(j.projectId) ?? String(j.projectId),
    j.name,
    j.kind,
    j.state,
    schedule(j.schedule),
    time(j.nextFireAt),
    ...(withRuns ? [runCounts(j.runCounts), lastRun(j.lastRun)] : []),
  ]);
  writeTable(out, header, rows, q === undefined ? 'no jobs' : `no jobs whose name contains "${q}"`);
  return 0;
}

export async function triggerCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const p = parse('trigger', argv, TRIGGER_OPTIONS);
  if (p.values.help) return void out.write(`${TRIGGER_HELP}\n`), 0;
  if (p.positionals.length !== 1) throw new CliError('trigger needs one JOB (a job id or name)\n(see: jobcenter-sdk trigger --help)');
  const params = json(p, 'params');
  const op = await connect(p);
  const job = await op.job(p.positionals[0]!, await projectOption(op, p));
  const { runId } = await op.json<{ runId: string }>('POST', `/api/v1/jobs/${job.id}/trigger`, params === undefined ? {} : { params });
  if (!flag(p, 'wait')) {
    if (flag(p, 'json')) return writeJson(out, { jobId: job.id, runId }), 0;
    out.write(`triggered ${job.name} (job ${job.id}): run ${runId}\n  follow it: jobcenter-sdk logs ${runId} --follow\n`);
    return 0;
  }
  if (!flag(p, 'json')) out.write(`triggered ${job.name} (job ${job.id}): run ${runId}, waiting for it to end\n`);
  const run = await waitForEnd(op, runId);
  if (flag(p, 'json')) writeJson(out, run);
  else out.write(`${runOutcome(run)}\n`);
  return run.status === 'SUCCEEDED' ? 0 : 1;
}

function schedule(s: JobRow['schedule']): string {
  if (s.type === 'INTERVAL' && s.everyMs !== undefined) return `every ${s.everyMs % 1000 === 0 ? `${s.everyMs / 1000}s` : `${s.everyMs}ms`}`;
  if (s.type === 'CRON' && s.cron !== undefined) return `cron ${s.cron}${s.timezone ? ` ${s.timezone}` : ''}`;
  return s.type;
}

/** Run counts as the host gives them: a number, or counts by status (`succeeded 3 failed 1`). */
function runCounts(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null || typeof value !== 'object') return '-';
  const counts = Object.entries(value).filter(([, n]) => typeof n === 'number' && n > 0);
  return counts.length === 0 ? '0' : counts.map(([status, n]) => `${status.toLowerCase()} ${n}`).join(' ');
}

function lastRun(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return '-';
  const run = value as { status?: string; endedAt?: string | null; startedAt?: string | null; scheduledAt?: string | null };
  return `${run.status ?? '?'} ${time(run.endedAt ?? run.startedAt ?? run.scheduledAt)}`;
}
