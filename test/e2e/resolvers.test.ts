/**
 * Resolvers end to end over HTTP, on SQLite and on MySQL/MariaDB: a resolver whose output is its run's params, so
 * each trigger drives it. Sub-jobs appear, run, change, are disabled and enabled again, keep their runs, stop and
 * go with their resolver, and read their config from it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { eventually, startHost, type Api, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractOptions, type ContractRun } from '../helpers/run-contract.js';
import { finishedRun, listRuns, readRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `
export const resolver = { resolve(ctx) { return (ctx.params && ctx.params.jobs) || []; } };
export const work = {
  execute(ctx) { return 'work ' + ctx.job.name + ' ' + (ctx.config.greeting || '-') + ' ' + JSON.stringify(ctx.params); },
};
`;
const CONFIG = {
  'config/app.properties': 'greeting=hello\n',
  'config/app-dev.properties': 'greeting=hello-dev\n',
};

interface Job {
  id: number;
  name: string;
  state: string;
  disabled: boolean;
  resolverId: number | null;
  identifierCode: string | null;
  configFile: string | null;
  schedule: Record<string, unknown>;
  subJobCount?: number;
}

const every = (cron: string) => ({ type: 'CRON', cron });
const SUB_A = { name: 'sub-a', entry: 'work', schedule: every('* * * * * *'), params: { n: 1 }, identifierCode: 1 };
const SUB_B = { name: 'sub-b', entry: 'work', schedule: { type: 'MANUAL' } };
const SUB_C = { name: 'sub-c', entry: 'work', schedule: { type: 'MANUAL' } };

/** The job's runs, newest first. */
function runsOf(api: Api, jobId: number): Promise<ContractRun[]> {
  return listRuns(api, `jobId=${jobId}&limit=100`);
}

for (const database of testDatabases()) {
  describe(`resolvers on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let projectId: number;
    let resolverId: number;

    /**
     * Triggers the resolver with these specs and returns its finished run, checked against the run-row contract: its
     * code ran to its end on a thread, so it says what it used.
     */
    async function resolve(jobs: unknown[], contract: ContractOptions = { resources: true }): Promise<ContractRun> {
      const trig = await th.api.post(`/api/v1/jobs/${resolverId}/trigger`, { params: { jobs } });
      assert.equal(trig.status, 202, trig.text);
      return finishedRun(th.api, trig.body.runId, contract);
    }

    async function subjobs(): Promise<Map<string, Job>> {
      const res = await th.api.get<Job[]>(`/api/v1/jobs/${resolverId}/subjobs`);
      assert.equal(res.status, 200, res.text);
      return new Map(res.body.map((j) => [j.name, j]));
    }

    async function sub(name: string): Promise<Job> {
      const job = (await subjobs()).get(name);
      assert.ok(job, `sub-job ${name} is listed`);
      return job;
    }

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db });
      const project = await th.api.post('/api/v1/projects', { name: 'resolvers', description: 'e2e' });
      assert.equal(project.status, 201, project.text);
      projectId = project.body.id;
      const upload = await th.api.upload(projectId, await threadBundle(CODE, CONFIG));
      assert.equal(upload.status, 201, upload.text);
      const created = await th.api.post('/api/v1/jobs', {
        projectId, name: 'maker', kind: 'thread', entry: 'resolver', schedule: { type: 'MANUAL' }, configFile: 'app.properties', profile: 'dev',
      });
      assert.equal(created.status, 201, created.text);
      resolverId = created.body.id;
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    test('the first run creates the sub-jobs, starts the scheduled one and hides them from the job list', async () => {
      const run = await resolve([SUB_A, SUB_B]);
      assert.equal(run.status, 'SUCCEEDED', run.error?.message);
      assert.equal(run.result, 'new:2, update:0, disable:0, enable:0');
      const subs = await subjobs();
      assert.deepEqual([...subs.keys()].sort(), ['sub-a', 'sub-b']);
      const a = subs.get('sub-a')!;
      const b = subs.get('sub-b')!;
      assert.equal(a.state, 'ACTIVE');
      assert.equal(b.state, 'STOPPED', 'a MANUAL sub-job is only created');
      for (const job of [a, b]) {
        assert.equal(job.resolverId, resolverId);
        assert.equal(job.disabled, false);
        assert.equal(job.configFile, null, 'sub-jobs take the config file from their resolver');
      }
      assert.equal(a.identifierCode, '1');
      const list = await th.api.get<{ items: Job[] }>(`/api/v1/jobs?projectId=${projectId}`);
      assert.deepEqual(list.body.items.map((j) => j.name), ['maker']);
      assert.equal(list.body.items[0]!.subJobCount, 2);
    });

    test("sub-jobs run with their params and the resolver's config file and profile", async () => {
      const a = await sub('sub-a');
      const runs = await eventually('a scheduled run of sub-a', async () => {
        const done = (await runsOf(th.api, a.id)).filter((r) => r.status === 'SUCCEEDED');
        return done.length > 0 ? done : undefined;
      });
      checkRunContract(runs[0]!, { resources: true });
      assert.equal(runs[0]!.result, 'work sub-a hello-dev {"n":1}');
      const b = await sub('sub-b');
      const trig = await th.api.post(`/api/v1/jobs/${b.id}/trigger`);
      assert.equal(trig.status, 202, trig.text);
      assert.equal((await finishedRun(th.api, trig.body.runId, { resources: true })).result, 'work sub-b hello-dev null');
    });

    test('the same list again changes nothing', async () => {
      const before = await subjobs();
      const run = await resolve([SUB_A, SUB_B]);
      assert.equal(run.result, 'new:0, update:0, disable:0, enable:0');
      const afterwards = await subjobs();
      assert.equal(afterwards.get('sub-a')!.state, 'ACTIVE');
      assert.deepEqual([...afterwards.values()].map((j) => j.id), [...before.values()].map((j) => j.id));
    });

    test('a changed identifierCode or schedule updates the sub-job and restarts it', async () => {
      const run = await resolve([{ ...SUB_A, identifierCode: 'v2', schedule: every('*/2 * * * * *') }, { ...SUB_B, params: { b: true } }]);
      assert.equal(run.result, 'new:0, update:2, disable:0, enable:0');
      const a = await sub('sub-a');
      assert.equal(a.identifierCode, 'v2');
      assert.equal(a.schedule.cron, '*/2 * * * * *');
      assert.equal(a.state, 'ACTIVE');
      const events = await th.api.get<{ action: string; actor: string }[]>(`/api/v1/events?jobId=${a.id}`);
      assert.ok(events.body.some((e) => e.action === 'updated' && e.actor === 'resolver:maker'), events.text);
      assert.ok(events.body.some((e) => e.action === 'stopped' && e.actor === 'resolver:maker'), events.text);
    });

    test('a sub-job missing from the list is stopped and disabled, and keeps its runs', async () => {
      // Ended runs only: a row written ahead for the next fire (QUEUED) goes when the sub-job stops.
      const ended = async (id: number): Promise<number> => (await runsOf(th.api, id)).filter((r) => r.status !== 'QUEUED').length;
      const runsBefore = await ended((await sub('sub-a')).id);
      const run = await resolve([SUB_B]);
      assert.equal(run.result, 'new:0, update:1, disable:1, enable:0', 'sub-b lost its params, sub-a went');
      const a = await sub('sub-a');
      assert.equal(a.disabled, true);
      assert.equal(a.state, 'STOPPED');
      assert.ok(runsBefore > 0);
      assert.ok((await ended(a.id)) >= runsBefore, 'its runs are still listed');
      const start = await th.api.post(`/api/v1/jobs/${a.id}/start`);
      assert.equal(start.status, 422, start.text);
      assert.match(start.text, /disabled/);
      assert.equal((await th.api.post(`/api/v1/jobs/${a.id}/trigger`)).status, 422);
      const list = await th.api.get<{ items: Job[] }>(`/api/v1/jobs?projectId=${projectId}`);
      assert.equal(list.body.items[0]!.subJobCount, 2, 'disabled sub-jobs still count');
    });

    test('listing it again enables and restarts it', async () => {
      const run = await resolve([SUB_A, SUB_B]);
      assert.equal(run.result, 'new:0, update:0, disable:0, enable:1');
      const a = await sub('sub-a');
      assert.equal(a.disabled, false);
      assert.equal(a.state, 'ACTIVE');
      assert.equal(a.identifierCode, '1');
    });

    test('two runs at once reconcile one after the other', async () => {
      const specs = [SUB_A, SUB_B, SUB_C];
      const runs = await Promise.all([resolve(specs), resolve(specs)]);
      assert.deepEqual(runs.map((r) => r.result).sort(), ['new:0, update:0, disable:0, enable:0', 'new:1, update:0, disable:0, enable:0']);
      assert.deepEqual([...(await subjobs()).keys()].sort(), ['sub-a', 'sub-b', 'sub-c']);
    });

    test('an invalid spec fails the run with its index and field, and changes nothing', async () => {
      const plain = await th.api.post('/api/v1/jobs', { projectId, name: 'plain', kind: 'thread', entry: 'work', schedule: { type: 'MANUAL' } });
      assert.equal(plain.status, 201, plain.text);
      const before = await subjobs();
      const bad: [unknown[], RegExp][] = [
        [[SUB_A, { ...SUB_B, name: 'sub-x', schedule: every('not a cron') }], /specs\[1\]\.schedule\.cron/],
        [[SUB_A, { ...SUB_B, name: 'sub-a' }], /specs\[1\]\.name/],
        [[{ ...SUB_B, name: 'plain' }], /specs\[0\]\.name.*"plain" is already a job/],
        [[{ ...SUB_B, name: 'sub-d', entry: 'missing' }], /specs\[0\]\.entry.*exports no job named "missing"/],
        [[{ ...SUB_B, name: 'sub-e', identifierCode: { x: 1 } }], /specs\[0\]\.identifierCode/],
        [[{ ...SUB_B, name: 'sub-f', colour: 'red' }], /specs\[0\]\.colour/],
      ];
      for (const [specs, message] of bad) {
        const run = await resolve(specs);
        assert.equal(run.status, 'FAILED', JSON.stringify(specs));
        assert.match(run.error?.message ?? '', message);
      }
      const afterwards = await subjobs();
      assert.deepEqual([...afterwards.keys()], [...before.keys()]);
      for (const [name, job] of afterwards) {
        assert.equal(job.disabled, before.get(name)!.disabled);
        assert.equal(job.state, before.get(name)!.state);
      }
    });

    test('a resolver run whose specs are refused still says what it used', async () => {
      const run = await resolve([{ ...SUB_B, name: 'sub-g', colour: 'red' }], {});
      assert.equal(run.status, 'FAILED', run.error?.message);
      checkRunContract(run, { resources: true });
    });

    test('a sub-job cannot be deleted alone', async () => {
      const res = await th.api.delete(`/api/v1/jobs/${(await sub('sub-b')).id}`);
      assert.equal(res.status, 409, res.text);
    });

    test('stopping the resolver stops its sub-jobs', async () => {
      assert.equal((await sub('sub-a')).state, 'ACTIVE');
      const res = await th.api.post(`/api/v1/jobs/${resolverId}/stop`);
      assert.equal(res.status, 200, res.text);
      for (const job of (await subjobs()).values()) assert.equal(job.state, 'STOPPED', job.name);
      const run = await resolve([SUB_A, SUB_B, SUB_C]);
      assert.equal(run.result, 'new:0, update:0, disable:0, enable:0');
      assert.equal((await sub('sub-a')).state, 'ACTIVE', 'the next resolver run starts a stopped sub-job again');
    });

    test('deleting the resolver deletes its sub-jobs and keeps their runs', async () => {
      const subs = [...(await subjobs()).values()];
      // Ended runs: a row written ahead for the next fire (QUEUED) is deleted with its job.
      const runIds = (await runsOf(th.api, subs.find((j) => j.name === 'sub-a')!.id)).filter((r) => r.status !== 'QUEUED').map((r) => r.runId);
      const res = await th.api.delete(`/api/v1/jobs/${resolverId}`);
      assert.equal(res.status, 204, res.text);
      for (const job of subs) assert.equal((await th.api.get(`/api/v1/jobs/${job.id}`)).status, 404, job.name);
      assert.equal((await th.api.get(`/api/v1/jobs/${resolverId}/subjobs`)).status, 404);
      // Runs are history: still there and still whole.
      await readRun(th.api, runIds[0]!);
    });
  });
}
