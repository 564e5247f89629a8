/**
 * A suite's host with one trusted project and its bundle, on a database of its own, and the job runs it reads: the
 * setup most end-to-end suites of schedules and jobs share.
 */
import assert from 'node:assert/strict';
import type { TestDatabase } from './db.js';
import { eventually, startHost, type TestHost } from './host.js';
import { checkFinishedRuns, type ContractRun } from './run-contract.js';
import { listRuns } from './runs.js';

export interface ProjectHost {
  th: TestHost;
  projectId: number;
  stop(): Promise<void>;
}

/** Starts a host on a fresh database of `database`, creates project `name` and uploads `bundle` to it. */
export async function startProjectHost(database: TestDatabase, name: string, bundle: Buffer): Promise<ProjectHost> {
  const made = await database.make();
  const th = await startHost({ db: made.db });
  const project = await th.api.post('/api/v1/projects', { name });
  assert.equal(project.status, 201, project.text);
  const upload = await th.api.upload(project.body.id, bundle);
  assert.equal(upload.status, 201, upload.text);
  return {
    th,
    projectId: project.body.id,
    async stop() {
      await th.stop();
      await made.drop();
    },
  };
}

/**
 * Every run of the job once `ready` holds and none of its runs is QUEUED or RUNNING, oldest fire time first, each
 * checked against the run contract.
 */
export async function settledRuns(th: TestHost, jobId: number, ready: () => Promise<boolean> = async () => true): Promise<ContractRun[]> {
  const runs = await eventually(`the runs of job ${jobId} to end`, async () => {
    if (!(await ready())) return undefined;
    await th.host.parts.store.runWriter.flush();
    const all = await listRuns(th.api, `jobId=${jobId}&limit=500`);
    return all.every((r) => r.status !== 'QUEUED' && r.status !== 'RUNNING') ? all : undefined;
  });
  checkFinishedRuns(runs);
  return runs.sort((a, b) => Date.parse(a.scheduledAt) - Date.parse(b.scheduledAt));
}
