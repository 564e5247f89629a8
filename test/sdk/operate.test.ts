/**
 * The operator's commands of the jobcenter-sdk CLI (jobs, trigger, runs, logs, kill), run as child processes
 * against a real host: tables, --json, jobs named by name, and the errors a 401, 403 or 404 gives.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api, ADMIN_PASSWORD, eventually, startHost, type TestHost } from '../helpers/host.js';
import { finishedRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';
import { cli, SDK_DIR } from './cli-helpers.js';

const JOBS = `
export const ok = { execute(ctx) { ctx.log.info('ok run ' + ctx.runId + ' ' + JSON.stringify(ctx.params)); return 'ok:' + ctx.runId; } };
export const thrower = { execute() { throw new Error('boom from the job'); } };
export const sleepy = {
  execute(ctx) {
    ctx.log.info('start');
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { ctx.log.info('end'); resolve('slept'); }, ctx.params.ms);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')); });
    });
  },
};
`;

describe('the operator commands of jobcenter-sdk against a real host', () => {
  let work = '';
  let th: TestHost;
  let env: NodeJS.ProcessEnv = {};
  const ids: Record<string, number> = {};

  async function project(name: string): Promise<number> {
    const res = await th.api.post('/api/v1/projects', { name, description: 'operate' });
    assert.equal(res.status, 201, res.text);
    assert.equal((await th.api.upload(res.body.id, await threadBundle(JOBS))).status, 201);
    return res.body.id;
  }

  async function job(projectId: number, name: string, entry: string, params: unknown = {}): Promise<number> {
    const res = await th.api.post('/api/v1/jobs', { projectId, name, kind: 'thread', entry, params, schedule: { type: 'MANUAL' }, concurrency: 'ALLOW' });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  async function trigger(jobId: number, params?: unknown): Promise<string> {
    const res = await th.api.post(`/api/v1/jobs/${jobId}/trigger`, params === undefined ? {} : { params });
    assert.equal(res.status, 202, res.text);
    return res.body.runId;
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jc-sdk-operate-'));
    env = { XDG_CONFIG_HOME: join(work, 'xdg'), JOBCENTER_PASSWORD: '', JOBCENTER_TOKEN: '' };
    th = await startHost({ options: { samplesDir: undefined } });
    ids.ops = await project('ops');
    ids.other = await project('other');
    ids.greet = await job(ids.ops, 'greet', 'ok');
    ids.boom = await job(ids.ops, 'boom', 'thrower');
    ids.nap = await job(ids.ops, 'nap', 'sleepy', { ms: 60_000 });
    ids.otherGreet = await job(ids.other, 'greet', 'ok');
    const login = await cli(['login', '--host', th.url], work, { ...env, JOBCENTER_PASSWORD: ADMIN_PASSWORD });
    assert.equal(login.code, 0, login.stderr);
  });
  after(async () => {
    await th?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('jobs prints a table of the jobs with their project names, and --project and --q narrow it', async () => {
    const all = await cli(['jobs'], work, env);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID +PROJECT +NAME +KIND +STATE +SCHEDULE +NEXT FIRE/);
    assert.equal(lines.length, 5);
    assert.match(all.stdout, new RegExp(`^${ids.nap} +ops +nap +thread +STOPPED +MANUAL +-`, 'm'));
    assert.match(all.stdout, new RegExp(`^${ids.otherGreet} +other +greet `, 'm'));
    const ops = await cli(['jobs', '--project', 'ops'], work, env);
    assert.equal(ops.stdout.trimEnd().split('\n').length, 4);
    assert.doesNotMatch(ops.stdout, / other /);
    const searched = await cli(['jobs', '--q', 'GRE'], work, env);
    assert.deepEqual(searched.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/ +/)[0]), [String(ids.greet), String(ids.otherGreet)]);
    const none = await cli(['jobs', '--q', 'nothing-like-this'], work, env);
    assert.equal(none.stdout, 'no jobs whose name contains "nothing-like-this"\n');
  });

  test('jobs --json prints the jobs as JSON on stdout only', async () => {
    const res = await cli(['jobs', '--json', '--project', String(ids.ops)], work, env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, '');
    const jobs = JSON.parse(res.stdout) as { id: number; name: string; projectId: number }[];
    assert.deepEqual(jobs.map((j) => j.name).sort(), ['boom', 'greet', 'nap']);
    assert.ok(jobs.every((j) => j.projectId === ids.ops));
  });

  test('trigger by a name two projects share refuses and lists the candidates; --project or the id picks one', async () => {
    const ambiguous = await cli(['trigger', 'greet'], work, env);
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, /2 jobs are named "greet"; give the job id, or --project:/);
    assert.match(ambiguous.stderr, new RegExp(`  ${ids.greet}  in project ops \\(id ${ids.ops}\\)`));
    assert.match(ambiguous.stderr, new RegExp(`  ${ids.otherGreet}  in project other \\(id ${ids.other}\\)`));
    assert.equal(ambiguous.stdout, '');

    const named = await cli(['trigger', 'greet', '--project', 'ops', '--params', '{"who":"Ada"}', '--wait'], work, env);
    assert.equal(named.code, 0, named.stderr);
    const runId = /run ([0-9a-f-]{36}), waiting/.exec(named.stdout)?.[1];
    assert.ok(runId, named.stdout);
    assert.match(named.stdout, new RegExp(`^triggered greet \\(job ${ids.greet}\\): run ${runId}, waiting for it to end\\nrun ${runId} SUCCEEDED after \\S+: ok:${runId}\\n$`));
    assert.equal((await finishedRun(th.api, runId)).jobId, ids.greet);
    assert.deepEqual((await th.api.get(`/api/v1/runs/${runId}`)).body.params, { who: 'Ada' });

    const byId = await cli(['trigger', String(ids.otherGreet), '--json'], work, env);
    assert.equal(byId.code, 0, byId.stderr);
    const answer = JSON.parse(byId.stdout) as { jobId: number; runId: string };
    assert.equal(answer.jobId, ids.otherGreet);
    assert.equal((await finishedRun(th.api, answer.runId)).jobId, ids.otherGreet);
  });

  test('trigger --wait of a run that fails prints the error and exits 1; --json gives the run', async () => {
    const res = await cli(['trigger', 'boom', '--wait'], work, env);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /run [0-9a-f-]{36} FAILED after \S+: boom from the job\n$/);
    const json = await cli(['trigger', 'boom', '--wait', '--json'], work, env);
    assert.equal(json.code, 1);
    const run = JSON.parse(json.stdout) as { status: string; jobId: number; error: { message: string } };
    assert.equal(run.status, 'FAILED');
    assert.equal(run.jobId, ids.boom);
    assert.equal(run.error.message, 'boom from the job');
  });

  test('runs lists a job\'s runs newest first, filters by status, and --limit caps them', async () => {
    const first = await trigger(ids.greet);
    await finishedRun(th.api, first);
    const second = await trigger(ids.greet);
    await finishedRun(th.api, second);
    const json = await cli(['runs', '--job', String(ids.greet), '--json', '--limit', '2'], work, env);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as { runId: string }[]).map((r) => r.runId), [second, first]);

    const table = await cli(['runs', '--job', 'greet', '--project', 'ops', '--limit', '1'], work, env);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^RUN ID +JOB +STATUS +TRIGGER +STARTED +TOOK +RESULT$/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, new RegExp(`^${second} +greet +SUCCEEDED +MANUAL +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ +\\S+ +ok:${second}$`));

    const failed = await cli(['runs', '--status', 'failed'], work, env);
    const rows = failed.stdout.trimEnd().split('\n').slice(1);
    assert.ok(rows.length >= 1);
    assert.ok(rows.every((l) => / boom +FAILED +MANUAL .* boom from the job$/.test(l)), failed.stdout);
  });

  test('logs prints a run\'s log, and --follow streams it while the run goes on and stops when it ends', async () => {
    const done = await trigger(ids.greet);
    await finishedRun(th.api, done);
    const logs = await cli(['logs', done], work, env);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, new RegExp(`ok run ${done} \\{\\}`));

    // The run sleeps until it is killed, so the follower sees it running however slowly the CLI starts.
    const runId = await trigger(ids.nap);
    const follower = await spawned(['logs', runId, '--follow'], env);
    await eventually('the start line while the run goes on', async () => (follower.stdout().includes('start') ? true : undefined), 30_000);
    assert.equal((await th.api.get(`/api/v1/runs/${runId}`)).body.status, 'RUNNING', 'the log streamed before the run ended');
    assert.equal((await th.api.post(`/api/v1/runs/${runId}/kill`)).status, 202);
    assert.equal(await follower.exit, 0);
    assert.match(follower.stdout(), /start/);
    assert.match(follower.stderr(), new RegExp(`run ${runId} KILLED after \\S+`));
  });

  test('kill ends a running run KILLED; a second kill answers 409 and exits 1', async () => {
    const runId = await trigger(ids.nap);
    await eventually('the run to start', async () => ((await th.api.get(`/api/v1/runs/${runId}`)).body.status === 'RUNNING' ? true : undefined));
    const res = await cli(['kill', runId], work, env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `killing run ${runId} (it ends KILLED; see: jobcenter-sdk runs)\n`);
    assert.equal((await finishedRun(th.api, runId)).status, 'KILLED');
    const again = await cli(['kill', runId, '--json'], work, env);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^jobcenter-sdk kill: POST \/api\/v1\/runs\/\S+\/kill failed: 409 .*has already ended \(KILLED\)/);
  });

  test('a refused token, a viewer\'s trigger and unknown ids fail with exit 1 and say what to do', async () => {
    const unauthorized = await cli(['jobs', '--token', 'not-a-token'], work, env);
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /failed: 401 [\s\S]*log in again with jobcenter-sdk login --host http:\/\/127\.0\.0\.1:\d+, or pass --token/);

    assert.equal((await th.api.post('/api/v1/users', { username: 'vic', password: 'vic-password', role: 'viewer' })).status, 201);
    const viewer = await Api.login(th.url, 'vic', 'vic-password');
    const forbidden = await cli(['trigger', String(ids.greet), '--host', th.url], work, { ...env, JOBCENTER_TOKEN: viewer.token! });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /failed: 403 [\s\S]*a viewer only reads/);

    const noJob = await cli(['trigger', '999999'], work, env);
    assert.equal(noJob.code, 1);
    assert.match(noJob.stderr, /GET \/api\/v1\/jobs\/999999 failed: 404 .*\nno job with id 999999 \(list them: jobcenter-sdk jobs\)\n$/);
    const noName = await cli(['runs', '--job', 'no-such-job'], work, env);
    assert.equal(noName.code, 1);
    assert.match(noName.stderr, /no job named "no-such-job" \(list them: jobcenter-sdk jobs --q "no-such-job"\)/);
    const noRun = await cli(['logs', '00000000-0000-4000-8000-000000000000'], work, env);
    assert.equal(noRun.code, 1);
    assert.match(noRun.stderr, /failed: 404 .*\nno run 00000000-0000-4000-8000-000000000000 that you can see \(list them: jobcenter-sdk runs\)\n$/);
  });
});

describe('the operator commands against a host that pages its lists', () => {
  let server: Server;
  let url = '';
  const asked: string[] = [];
  const pages: Record<string, unknown> = {
    '/api/v1/projects': { items: [{ id: 1, name: 'first' }], nextCursor: 'p2' },
    '/api/v1/projects?cursor=p2': { items: [{ id: 2, name: 'second' }], nextCursor: null },
    '/api/v1/jobs': {
      items: [{ id: 7, projectId: 1, name: 'alpha', kind: 'thread', state: 'ACTIVE', schedule: { type: 'INTERVAL', everyMs: 5000 }, nextFireAt: '2030-01-01T00:00:05.000Z', runCounts: { SUCCEEDED: 3, FAILED: 1, KILLED: 0 }, lastRun: { runId: 'r', status: 'FAILED', endedAt: '2030-01-01T00:00:00.400Z' } }],
      nextCursor: 'j2',
    },
    '/api/v1/jobs?cursor=j2': {
      items: [{ id: 9, projectId: 2, name: 'beta', kind: 'isolate', state: 'STOPPED', schedule: { type: 'CRON', cron: '0 * * * * *' }, nextFireAt: null, runCounts: {}, lastRun: null }],
      nextCursor: null,
    },
  };

  before(async () => {
    server = createServer((req, res) => {
      asked.push(`${req.url} ${req.headers.authorization}`);
      const page = pages[req.url ?? ''];
      res.writeHead(page ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(page ?? { error: { code: 'NOT_FOUND', message: 'not here' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('jobs follows nextCursor to the last page and shows run counts and the last run', async () => {
    const res = await cli(['jobs', '--host', url, '--token', 'paged-token'], SDK_DIR);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(
      res.stdout,
      [
        'ID  PROJECT  NAME   KIND     STATE    SCHEDULE          NEXT FIRE             RUNS                  LAST RUN',
        '7   first    alpha  thread   ACTIVE   every 5s          2030-01-01 00:00:05Z  succeeded 3 failed 1  FAILED 2030-01-01 00:00:00Z',
        '9   second   beta   isolate  STOPPED  cron 0 * * * * *  -                     0                     -',
        '',
      ].join('\n'),
    );
    assert.ok(asked.every((a) => a.endsWith(' Bearer paged-token')));
    const json = await cli(['jobs', '--host', url, '--token', 'paged-token', '--json'], SDK_DIR);
    assert.deepEqual((JSON.parse(json.stdout) as { id: number }[]).map((j) => j.id), [7, 9]);
  });
});

/** The CLI as a child whose output can be read while it runs. */
async function spawned(args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout(): string; stderr(): string; exit: Promise<number | null> }> {
  const { NODE_TEST_CONTEXT: _inner, ...base } = process.env;
  const child = spawn(process.execPath, [join(SDK_DIR, 'bin', 'jobcenter-sdk.js'), ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`jobcenter-sdk ${args.join(' ')} took longer than 30 s\n${out}\n${err}`));
    }, 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  return { stdout: () => out, stderr: () => err, exit };
}
