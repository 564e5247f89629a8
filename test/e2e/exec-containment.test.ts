/**
 * Nothing an exec run starts outlives it, and its memory is limited (issue 22, item 4), through a real host over
 * HTTP: a `setsid` grandchild (out of the command's process group, so the group kill misses it) is gone shortly
 * after its run ends, whether the command exits, is killed or times out; a command allocating past its
 * memoryLimitMb fails naming the limit and the host goes on; the PID-namespace fallback, forced by the option,
 * holds a setsid grandchild too; a host that starts after one was SIGKILLed kills what that one left in its cgroups.
 * The database plays no part in containment: SQLite only.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HostOptions } from '../../host/config/index.js';
import { Api, ADMIN_PASSWORD, eventually, exited, freePort, spawnHost, startHost, waitForHealthy, type TestHost } from '../helpers/host.js';
import { isAlive } from '../helpers/processes.js';
import type { ContractRun } from '../helpers/run-contract.js';
import { finishedRun } from '../helpers/runs.js';
import { zip } from '../helpers/zip.js';

/**
 * Starts a setsid grandchild that prints its own pid (as /proc sees it from the host: `$!` would be a namespace's
 * pid under the PID-namespace containment) and then becomes `sleep 300`; `$1` says what the command does next.
 */
const LEAVE = `read me rest < /proc/self/stat; echo "main $me"
setsid sh -c 'read pid rest < /proc/self/stat; echo "grandchild $pid"; exec sleep 300' &
sleep 0.5
case "$1" in
  exit) echo "leaving" ;;
  wait) while :; do sleep 0.1; done ;;
esac
`;

const HOG_MB = 300;
const LIMIT_MB = 64;
const HOG = `const held = []; for (let i = 0; i < ${HOG_MB}; i++) held.push(Buffer.alloc(1048576, 1)); console.log('held ' + held.length + ' MB');`;

async function bundle(): Promise<Buffer> {
  return zip({ 'jobcenter.json': JSON.stringify({ name: 'contain', version: '1.0.0', kind: 'exec' }), 'leave.sh': LEAVE });
}

/** The grandchild's pid, once the run's log shows it. */
async function grandchildOf(api: Api, runId: string): Promise<number> {
  return (await pidsOf(api, runId))[1];
}

/** The command's and the grandchild's pids, once the run's log shows them. */
async function pidsOf(api: Api, runId: string): Promise<[number, number]> {
  return eventually(`run ${runId} to print its pids`, async () => {
    const res = await api.get(`/api/v1/runs/${runId}/log`);
    const main = /main (\d+)/.exec(res.text);
    const grandchild = /grandchild (\d+)/.exec(res.text);
    return main && grandchild ? [Number(main[1]), Number(grandchild[1])] : undefined;
  });
}

/** A failed test leaves nothing behind. */
function killAll(pids: readonly number[]): void {
  for (const pid of pids) if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function gone(pid: number): Promise<void> {
  await eventually(`process ${pid} to be gone`, async () => (isAlive(pid) ? undefined : true), 3_000);
}

interface Project {
  api: Api;
  id: number;
}

async function project(api: Api, name: string): Promise<Project> {
  const created = await api.post('/api/v1/projects', { name });
  assert.equal(created.status, 201, created.text);
  const upload = await api.upload(created.body.id, await bundle());
  assert.equal(upload.status, 201, upload.text);
  return { api, id: created.body.id };
}

async function trigger(p: Project, name: string, body: Record<string, unknown>): Promise<string> {
  const job = await p.api.post('/api/v1/jobs', { projectId: p.id, name, kind: 'exec', schedule: { type: 'MANUAL' }, ...body });
  assert.equal(job.status, 201, job.text);
  const fired = await p.api.post(`/api/v1/jobs/${job.body.id}/trigger`);
  assert.equal(fired.status, 202, fired.text);
  return fired.body.runId;
}

/** Where this machine mounts cgroup v2 (null: none). */
function cgroup2Mount(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left!.split(' ')[4]!;
  }
  return null;
}

/** The exec cgroup folders a host process made, beside its own v2 cgroup. */
async function cgroupsOf(pid: number): Promise<string[]> {
  const mount = cgroup2Mount();
  if (!mount) return [];
  const own = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '/';
  const parent = path.join(mount, own);
  return (await readdir(parent)).filter((name) => name.startsWith(`jobcenter-exec-${pid}-`)).map((name) => path.join(parent, name));
}

describe('exec containment', () => {
  let th: TestHost;
  let p: Project;

  before(async () => {
    th = await startHost();
    p = await project(th.api, 'contain');
  });

  after(async () => {
    await th?.stop();
  });

  test('a setsid grandchild dies when its command exits', async () => {
    const runId = await trigger(p, 'exits', { entry: ['/bin/sh', 'leave.sh', 'exit'] });
    const grandchild = await grandchildOf(th.api, runId);
    const run = await finishedRun(th.api, runId, { resources: true });
    assert.equal(run.status, 'SUCCEEDED', run.error?.message);
    await gone(grandchild);
  });

  test('a setsid grandchild dies when its run is killed', async () => {
    const runId = await trigger(p, 'killed', { entry: ['/bin/sh', 'leave.sh', 'wait'] });
    const grandchild = await grandchildOf(th.api, runId);
    assert.ok(isAlive(grandchild), 'the grandchild runs while its run does');
    const kill = await th.api.post(`/api/v1/runs/${runId}/kill`);
    assert.ok(kill.status < 300, kill.text);
    const run = await finishedRun(th.api, runId);
    assert.equal(run.status, 'KILLED', run.error?.message);
    await gone(grandchild);
  });

  test('a setsid grandchild dies when its run times out', async () => {
    const runId = await trigger(p, 'times-out', { entry: ['/bin/sh', 'leave.sh', 'wait'], timeoutMs: 2_000 });
    const grandchild = await grandchildOf(th.api, runId);
    const run = await finishedRun(th.api, runId);
    assert.equal(run.status, 'TIMED_OUT', run.error?.message);
    await gone(grandchild);
  });

  test('a command allocating past its memoryLimitMb fails naming the limit, and the host goes on', async (t) => {
    const runId = await trigger(p, 'hog', { entry: [process.execPath, '-e', HOG], memoryLimitMb: LIMIT_MB });
    const run = (await finishedRun(th.api, runId, { timeoutMs: 30_000 })) as ContractRun;
    t.diagnostic(`status ${run.status}, peak ${run.peakMemoryMb} MiB, error: ${run.error?.message}`);
    assert.equal(run.status, 'FAILED', `a ${HOG_MB} MB allocation under a ${LIMIT_MB} MB limit fails`);
    assert.equal(run.error?.name, 'MemoryLimitError');
    assert.match(run.error!.message, new RegExp(`memory limit of ${LIMIT_MB} MB`));
    assert.ok(run.peakMemoryMb! <= LIMIT_MB + 1, `peakMemoryMb ${run.peakMemoryMb} stays within the limit`);
    assert.equal((await fetch(`${th.url}/healthz`)).status, 200);
    const next = await finishedRun(th.api, await trigger(p, 'after-hog', { entry: ['/bin/sh', 'leave.sh', 'exit'] }));
    assert.equal(next.status, 'SUCCEEDED', 'the host runs the next job');
  });
});

describe('exec containment forced to a PID namespace', () => {
  let th: TestHost;

  before(async () => {
    // A plain record: the option is new, and the test must compile (and fail) against a host without it.
    const options: Record<string, unknown> = { execContainment: 'pid-namespace' };
    th = await startHost({ options: options as HostOptions });
  });

  after(async () => {
    await th?.stop();
  });

  test('a setsid grandchild dies when its command exits, and when its run times out', async () => {
    const p = await project(th.api, 'contain-ns');
    const exits = await trigger(p, 'exits', { entry: ['/bin/sh', 'leave.sh', 'exit'] });
    const first = await grandchildOf(th.api, exits);
    assert.equal((await finishedRun(th.api, exits)).status, 'SUCCEEDED');
    await gone(first);
    const waits = await trigger(p, 'times-out', { entry: ['/bin/sh', 'leave.sh', 'wait'], timeoutMs: 2_000 });
    const second = await grandchildOf(th.api, waits);
    assert.equal((await finishedRun(th.api, waits)).status, 'TIMED_OUT');
    await gone(second);
  });
});

describe('exec runs of a SIGKILLed host under a PID namespace', () => {
  test('die with the host (setpriv --pdeathsig)', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-contain-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const crashed = spawnHost({ dataDir, port, args: ['--exec-containment', 'pid-namespace'] });
    let pids: number[] = [];
    try {
      await waitForHealthy(url);
      const api = await Api.login(url, 'admin', ADMIN_PASSWORD);
      const p = await project(api, 'crash-ns');
      const runId = await trigger(p, 'waits', { entry: ['/bin/sh', 'leave.sh', 'wait'] });
      pids = await pidsOf(api, runId);
      crashed.kill('SIGKILL');
      await exited(crashed);
      await gone(pids[1]!);
      await gone(pids[0]!);
    } finally {
      crashed.kill('SIGKILL');
      killAll(pids);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('exec cgroups of a crashed host', () => {
  // Root with a cgroup v2 mount is what the cgroup containment needs (docs/isolation.md): here it must be used.
  const skip = process.getuid?.() !== 0 || cgroup2Mount() === null ? 'exec runs cannot be put in cgroups on this machine' : false;
  test('a host that starts after one was SIGKILLed kills what that one left running and removes its cgroups', { skip }, async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-contain-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const crashed = spawnHost({ dataDir, port });
    let pids: number[] = [];
    let next: TestHost | null = null;
    try {
      await waitForHealthy(url);
      const api = await Api.login(url, 'admin', ADMIN_PASSWORD);
      const p = await project(api, 'crash');
      const runId = await trigger(p, 'waits', { entry: ['/bin/sh', 'leave.sh', 'wait'] });
      pids = await pidsOf(api, runId);
      const left = await cgroupsOf(crashed.pid!);
      assert.ok(left.length > 0, 'the host made its exec cgroups');
      crashed.kill('SIGKILL');
      await exited(crashed);
      assert.ok(pids.every(isAlive), 'a SIGKILLed host leaves its run behind');
      next = await startHost();
      for (const pid of pids) await gone(pid);
      await eventually('the crashed host\'s cgroups to be removed', async () => {
        const still = await Promise.all(left.map((dir) => readdir(dir).then(() => dir, () => null)));
        return still.every((dir) => dir === null) ? true : undefined;
      }, 3_000);
    } finally {
      crashed.kill('SIGKILL');
      killAll(pids);
      await next?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
