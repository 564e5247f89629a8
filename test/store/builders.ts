/**
 * Records for store tests: a project with one job, and runs of it.
 */
import { randomUUID } from 'node:crypto';
import type { JobRecord, RunRecord } from '../../host/domain/index.js';
import type { NewJob, Store } from '../../host/store/types.js';

export function newJob(projectId: number, name: string, overrides: Partial<NewJob> = {}): NewJob {
  return {
    projectId,
    name,
    kind: 'thread',
    entry: 'main',
    params: { n: 1, nested: { list: [1, 'two'] } },
    configFile: null,
    profile: null,
    config: { region: 'eu' },
    schedule: { type: 'INTERVAL', everyMs: 5000 },
    concurrency: 'ALLOW',
    maxQueue: 10,
    timeoutMs: null,
    memoryLimitMb: null,
    misfire: 'fireOnce',
    onInterrupt: 'none',
    shell: false,
    state: 'STOPPED',
    anchorAt: null,
    resolverId: null,
    identifierCode: null,
    grants: null,
    retries: null,
    disabled: false,
    ownerId: null,
    ...overrides,
  };
}

export function newRun(job: Pick<JobRecord, 'id' | 'projectId'>, scheduledAt: Date, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: randomUUID(),
    jobId: job.id,
    projectId: job.projectId,
    bundleId: null,
    host: 'test-host',
    trigger: 'SCHEDULE',
    status: 'QUEUED',
    scheduledAt,
    startedAt: null,
    endedAt: null,
    result: null,
    error: null,
    attempt: 1,
    cpuMs: null,
    peakMemoryMb: null,
    logFile: null,
    logOffset: null,
    logLength: null,
    notBefore: null,
    params: null,
    ...overrides,
  };
}

/** A user, a project of theirs and one job in it. */
export async function seedJob(store: Store, name = 'p1'): Promise<JobRecord> {
  const owner =
    (await store.users.findByUsername('owner')) ??
    (await store.users.create({ username: 'owner', passwordHash: 'x', role: 'developer', disabled: false }));
  // Trusted: the job is a thread job, which only a trusted project runs.
  const project = await store.projects.create({ name, description: '', ownerId: owner.id, trusted: true });
  return store.jobs.create(newJob(project.id, 'job'));
}
