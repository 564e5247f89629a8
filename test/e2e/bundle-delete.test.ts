/**
 * Deleting a bundle version while runs of it are in flight, over REST on SQLite and MySQL/MariaDB: the delete is
 * refused with 409 naming the runs, the runs finish on their files, and the delete goes through once they ended.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { eventually, sleep, startHost, type Api, type TestHost } from '../helpers/host.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { threadBundle } from '../helpers/zip.js';

/** A thread job and an exec job that read a file of their bundle after a while. */
const SLOW_READER = `
import { readFile } from 'node:fs/promises';
export const slowRead = {
  async execute(ctx) {
    await new Promise((resolve) => setTimeout(resolve, (ctx.params && ctx.params.ms) || 1500));
    return (await readFile(new URL('./data.txt', import.meta.url), 'utf8')).trim();
  },
};
`;

async function slowBundle(data: string): Promise<Buffer> {
  return threadBundle(SLOW_READER, { 'data.txt': `${data}\n` });
}

async function runOf(api: Api, runId: string): Promise<ContractRun> {
  const res = await api.get<ContractRun>(`/api/v1/runs/${runId}`);
  assert.equal(res.status, 200, res.text);
  return res.body;
}

async function trigger(api: Api, jobId: number): Promise<string> {
  const res = await api.post(`/api/v1/jobs/${jobId}/trigger`);
  assert.equal(res.status, 202, res.text);
  return res.body.runId;
}

async function finished(api: Api, runId: string): Promise<ContractRun> {
  const run = await eventually(`run ${runId} to end`, async () => {
    const run = await runOf(api, runId);
    return ['QUEUED', 'RUNNING'].includes(run.status) ? undefined : run;
  });
  return checkRunContract(run);
}

interface Conflict {
  error: { code: string; message: string; details: { runs: { runId: string; jobId: number; status: string }[] } };
}

for (const database of testDatabases()) {
  describe(`deleting a bundle version with runs in flight on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db });
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    async function project(name: string): Promise<{ id: number; bundle: { id: number; dir: string } }> {
      const created = await th.api.post('/api/v1/projects', { name });
      assert.equal(created.status, 201, created.text);
      const upload = await th.api.upload(created.body.id, await slowBundle('version one'));
      assert.equal(upload.status, 201, upload.text);
      // The API does not show where a bundle is extracted: its folder is found on disk, by its project and hash.
      const projectDir = path.join(th.dataDir, 'bundles', String(created.body.id));
      const folders = (await readdir(projectDir)).filter((name) => name.startsWith(`${upload.body.sha256}-`));
      assert.equal(folders.length, 1, folders.join(', '));
      return { id: created.body.id, bundle: { id: upload.body.id, dir: path.join(projectDir, folders[0]!) } };
    }

    async function job(projectId: number, body: Record<string, unknown>): Promise<number> {
      const res = await th.api.post('/api/v1/jobs', { projectId, concurrency: 'ALLOW', schedule: { type: 'MANUAL' }, ...body });
      assert.equal(res.status, 201, res.text);
      return res.body.id;
    }

    test('a delete under a running thread run and a running exec run is refused with 409 naming both, and goes through once they end', async () => {
      const { id, bundle } = await project('in-flight');
      const threadJob = await job(id, { name: 'slow-thread', kind: 'thread', entry: 'slowRead' });
      const execJob = await job(id, { name: 'slow-exec', kind: 'exec', entry: ['sh', '-c', 'sleep 1.5; cat data.txt'] });
      const runIds = [await trigger(th.api, threadJob), await trigger(th.api, execJob)];
      await eventually('both runs to be running', async () => {
        const runs = await Promise.all(runIds.map((runId) => runOf(th.api, runId)));
        return runs.every((run) => run.status === 'RUNNING') ? true : undefined;
      });
      const next = await th.api.upload(id, await slowBundle('version two'));
      assert.equal(next.status, 201, next.text);

      const refused = await th.api.delete<Conflict>(`/api/v1/projects/${id}/bundles/${bundle.id}`);
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.error.code, 'CONFLICT');
      assert.deepEqual(refused.body.error.details.runs.map((r) => r.runId).sort(), [...runIds].sort());
      assert.deepEqual(refused.body.error.details.runs.map((r) => r.jobId).sort(), [threadJob, execJob].sort());
      for (const runId of runIds) assert.match(refused.body.error.message, new RegExp(runId));
      assert.ok(existsSync(bundle.dir), 'the refused delete left the folder in place');

      const [threadRun, execRun] = await Promise.all(runIds.map((runId) => finished(th.api, runId)));
      assert.equal(threadRun!.status, 'SUCCEEDED', JSON.stringify(threadRun!.error));
      assert.equal(threadRun!.result, 'version one');
      assert.equal(execRun!.status, 'SUCCEEDED', JSON.stringify(execRun!.error));
      const log = await th.api.get(`/api/v1/runs/${execRun!.runId}/log`);
      assert.match(log.text, /version one/);

      const deleted = await th.api.delete(`/api/v1/projects/${id}/bundles/${bundle.id}`);
      assert.equal(deleted.status, 204, deleted.text);
      assert.ok(!existsSync(bundle.dir), 'the folder is gone');
      const after = await finished(th.api, await trigger(th.api, threadJob));
      assert.equal(after.result, 'version two', 'new runs use the version that stays');
    });

    test('a forced delete of the current version is refused while a run of it is in flight', async () => {
      const { id, bundle } = await project('current-in-flight');
      const threadJob = await job(id, { name: 'slow-thread', kind: 'thread', entry: 'slowRead' });
      const runId = await trigger(th.api, threadJob);

      const refused = await th.api.delete<Conflict>(`/api/v1/projects/${id}/bundles/${bundle.id}?force=1`);
      assert.equal(refused.status, 409, refused.text);
      assert.deepEqual(refused.body.error.details.runs.map((r) => r.runId), [runId]);
      assert.equal((await th.api.get(`/api/v1/projects/${id}`)).body.currentBundleId, bundle.id, 'the refused delete changed nothing');

      const run = await finished(th.api, runId);
      assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
      assert.equal((await th.api.delete(`/api/v1/projects/${id}/bundles/${bundle.id}?force=1`)).status, 204);
      assert.equal((await th.api.get(`/api/v1/projects/${id}`)).body.currentBundleId, null);
    });

    test('a scheduled job\'s runs, planned ahead and running, block the delete of their version until the job stops', async () => {
      const { id, bundle } = await project('planned');
      const cronJob = await job(id, { name: 'every-second', kind: 'thread', entry: 'slowRead', params: { ms: 1200 }, schedule: { type: 'CRON', cron: '* * * * * *' }, start: true });
      await eventually('a first run of the cron job to start', async () => {
        const runs = (await th.api.get<{ items: ContractRun[] }>(`/api/v1/runs?jobId=${cronJob}`)).body.items;
        return runs.some((run) => run.status === 'RUNNING') ? true : undefined;
      });

      // Each fire is planned (row written as QUEUED, code resolved) half a second ahead, so within a few tries one
      // refusal names a planned run.
      const statuses = new Set<string>();
      for (let attempt = 0; attempt < 40 && !statuses.has('QUEUED'); attempt++) {
        const refused = await th.api.delete<Conflict>(`/api/v1/projects/${id}/bundles/${bundle.id}?force=1`);
        assert.equal(refused.status, 409, refused.text);
        assert.ok(refused.body.error.details.runs.every((r) => r.jobId === cronJob));
        for (const run of refused.body.error.details.runs) statuses.add(run.status);
        await sleep(100);
      }
      assert.deepEqual([...statuses].sort(), ['QUEUED', 'RUNNING']);

      assert.equal((await th.api.post(`/api/v1/jobs/${cronJob}/stop`)).status, 200);
      await eventually('the delete to go through once the job stopped and its runs ended', async () => {
        const res = await th.api.delete(`/api/v1/projects/${id}/bundles/${bundle.id}?force=1`);
        return res.status === 204 ? true : undefined;
      });
      const runs = (await th.api.get<{ items: ContractRun[] }>(`/api/v1/runs?jobId=${cronJob}`)).body.items;
      assert.ok(runs.length > 0);
      for (const run of runs) {
        checkRunContract(run);
        assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
      }
    });
  });
}
