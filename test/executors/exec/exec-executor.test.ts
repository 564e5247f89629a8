import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunOutcome, RunRequest } from '../../../host/executors/shared/executor.js';
import { silentLogger } from '../../../host/log/logger.js';
import { createExecExecutor, type ExecExecutor } from '../../../host/executors/exec/exec-executor.js';
import { createContainment } from '../../../host/executors/exec/containment.js';
import { createSpawner } from '../../../host/executors/exec/native-spawn.js';
import { isAlive } from '../../helpers/processes.js';
import { measured, recordingHooks, testConfig } from '../helpers.js';

/** Fixtures stay in the source tree; compiled tests run from dist/test/runner. */
function fixtureDir(name: string): string {
  const near = fileURLToPath(new URL(`../../fixtures/runner/${name}`, import.meta.url));
  return existsSync(near) ? near : fileURLToPath(new URL(`../../../../test/fixtures/runner/${name}`, import.meta.url));
}

let counter = 0;
function execRequest(argv: string[], overrides: Partial<RunRequest> = {}): RunRequest {
  counter++;
  return {
    runId: `10000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    job: { id: 9, name: 'nightly', project: 'ops', projectId: 2 },
    kind: 'exec',
    entry: argv,
    params: { day: 'monday', n: 2 },
    config: { greeting: 'hello there', 'db.url': 'mysql://x' },
    scheduledAt: new Date('2025-02-03T04:05:06.000Z'),
    attempt: 2,
    fencingToken: 'f',
    memoryLimitMb: null,
    shell: false,
    bundle: { id: 5, dir: fixtureDir('tools'), main: null },
    ...overrides,
  };
}

function assertFailed(outcome: RunOutcome): asserts outcome is Extract<RunOutcome, { ok: false }> {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`);
}

/** Where `npm run build` puts the native spawn addon (dist/native/), seen from dist/test/executors/exec/. */
const ADDON = fileURLToPath(new URL('../../../native/jobcenter_spawn.node', import.meta.url));

// Each test runs with both ways of starting a command (host/executors/exec/native-spawn.ts).
for (const execSpawn of ['auto', 'fork'] as const) describe(`exec executor (execSpawn ${execSpawn})`, () => {
  let executor: ExecExecutor;
  before(() => {
    executor = createExecExecutor({ config: testConfig({ killGraceMs: 300, execSpawn }), logger: silentLogger });
  });
  after(async () => {
    await executor.close();
  });

  test('commands are started by the native addon where it is built (in CI it must be), else by a fork', async () => {
    // The addon is loaded by the first command: one runs before the spawner is asked.
    assert.equal((await executor.execute(execRequest(['/bin/true']), recordingHooks())).ok, true);
    if (execSpawn === 'fork') return assert.equal(executor.spawner, 'fork');
    if (process.env.CI) assert.ok(existsSync(ADDON), `${ADDON} is built by npm run build`);
    assert.equal(executor.spawner, existsSync(ADDON) ? 'vfork' : 'fork');
  });

  test('the command starts with no signal ignored or blocked, an empty stdin, in a session of its own', async () => {
    const hooks = recordingHooks();
    const script = 'grep -E "^Sig(Ign|Blk)" /proc/self/status; wc -c; read pid comm state ppid pgrp session rest < /proc/self/stat; echo "$pgrp $session $$"';
    const outcome = await executor.execute(execRequest(['/bin/sh', '-c', script]), hooks);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    const [blk, ign, bytes, ids] = hooks.lines.map((l) => l.message);
    assert.equal(ign, 'SigIgn:\t0000000000000000');
    assert.equal(blk, 'SigBlk:\t0000000000000000');
    assert.equal(bytes, '0');
    const [pgrp, session, pid] = ids!.split(' ');
    assert.equal(pgrp, pid, 'the command leads its process group');
    assert.equal(session, pid, 'and its session');
  });

  test('fifty commands at once each end with their own output and exit status', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => executor.execute(execRequest(['/bin/sh', '-c', `sleep 0.0$(( $1 % 5 )); echo "n=$1"; exit $(( $1 % 3 ))`, 'sh', String(i)]), recordingHooks())),
    );
    outcomes.forEach((outcome, i) => {
      if (i % 3 === 0) return assert.deepEqual(measured(outcome, false), { ok: true, result: `n=${i}` });
      assertFailed(outcome);
      assert.equal(outcome.error.message, `exited with code ${i % 3}`);
    });
    assert.equal(executor.runningCount(), 0);
  });

  test('an argument with a NUL byte fails the run at spawn, never cut short', async () => {
    const outcome = await executor.execute(execRequest(['/bin/echo', 'before\0after']), recordingHooks());
    assertFailed(outcome);
    assert.equal(outcome.error.code, 'ERR_INVALID_ARG_VALUE');
    assert.match(outcome.error.message, /^could not start \/bin\/echo: .*(null|NUL) byte/);
  });

  test('a script without a #! line is run by /bin/sh, as execvp runs it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jc-exec-'));
    try {
      writeFileSync(path.join(dir, 'plain'), 'echo "plain script $1"\n', { mode: 0o755 });
      const outcome = await executor.execute(execRequest(['./plain', 'ran'], { bundle: { id: 5, dir, main: null } }), recordingHooks());
      assert.deepEqual(measured(outcome, false), { ok: true, result: 'plain script ran' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a command runs in its bundle with its arguments, gets the run file and its last stdout line, unfinished, is the result', async () => {
    const hooks = recordingHooks();
    const request = execRequest(['./report.sh', 'one', 'two']);
    const outcome = await executor.execute(request, hooks);
    assert.deepEqual(measured(outcome, false), { ok: true, result: 'partial last line' });
    const text = hooks.lines.map((l) => `${l.level} ${l.message}`);
    assert.ok(text.includes(`info cwd=${fixtureDir('tools')}`), text.join('\n'));
    assert.ok(text.includes('info args=one two'));
    assert.ok(text.includes('info greeting=hello there dbUrl=mysql://x'), 'a config key that is not a name is made one');
    const file = JSON.parse(text.find((l) => l.startsWith('info file='))!.slice('info file='.length));
    assert.deepEqual(file, {
      runId: request.runId,
      job: { id: 9, name: 'nightly', project: 'ops' },
      params: { day: 'monday', n: 2 },
      config: { greeting: 'hello there', 'db.url': 'mysql://x' },
      scheduledAt: '2025-02-03T04:05:06.000Z',
      attempt: 2,
    });
    assert.equal(typeof hooks.startedAt, 'number');
  });

  test('a command without a bundle runs in a temporary folder that is removed afterwards', async () => {
    const hooks = recordingHooks();
    const outcome = await executor.execute(execRequest(['/bin/sh', '-c', 'pwd; ls "$JOBCENTER_CONFIG_FILE"'], { bundle: null }), hooks);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    const cwd = hooks.lines[0].message;
    assert.match(cwd, /jobcenter-run-/);
    assert.equal(existsSync(cwd), false);
  });

  test('a missing executable fails with a message naming the command', async () => {
    const outcome = await executor.execute(execRequest(['./no-such-tool', 'x']), recordingHooks());
    assertFailed(outcome);
    assert.equal(outcome.error.message, 'command not found: ./no-such-tool');
    assert.equal(outcome.error.code, 'ENOENT');
  });

  test('a file without the execute bit fails with a message naming the command', async () => {
    const outcome = await executor.execute(execRequest(['./not-executable.sh']), recordingHooks());
    assertFailed(outcome);
    assert.match(outcome.error.message, /not executable.*\.\/not-executable\.sh/);
  });

  test('a command killed by a signal says which', async () => {
    const outcome = await executor.execute(execRequest(['/bin/sh', '-c', 'kill -USR1 $$']), recordingHooks());
    assertFailed(outcome);
    assert.equal(outcome.error.message, 'killed by SIGUSR1');
  });

  test('shell mode runs the joined argv through /bin/sh', async () => {
    const hooks = recordingHooks();
    const outcome = await executor.execute(execRequest(['echo', '$JOBCENTER_JOB_NAME', '|', 'tr', 'a-z', 'A-Z'], { shell: true }), hooks);
    assert.deepEqual(measured(outcome, false), { ok: true, result: 'NIGHTLY' });
  });

  test('50 MB of stdout is streamed as lines without growing host memory', async (t) => {
    let lines = 0;
    let bytes = 0;
    const hooks = recordingHooks();
    hooks.log = (_level, message) => {
      lines++;
      bytes += message.length;
    };
    const rssBefore = process.memoryUsage().rss;
    const outcome = await executor.execute(execRequest([process.execPath, './flood.js']), hooks);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    assert.deepEqual(measured(outcome, false), { ok: true, result: 'flood done' });
    assert.equal(lines, 50 * 1024 + 1);
    assert.ok(bytes > 50 * 1024 * 1023);
    assert.ok(rssGrowth < 150 * 1024 * 1024, `rss grew by ${Math.round(rssGrowth / 1048576)} MB`);
    t.diagnostic(`50 MB flood: host rss grew by ${Math.round(rssGrowth / 1048576)} MB`);
  });

  test('a kill stops the whole process group, grandchildren included', async () => {
    const hooks = recordingHooks();
    const running = executor.execute(execRequest(['/bin/sh', '-c', 'sleep 30 & echo $!; sleep 30; wait']), hooks);
    const deadline = Date.now() + 5_000;
    while (hooks.lines.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const grandchild = Number(hooks.lines[0]?.message);
    assert.ok(grandchild > 0, 'the background sleep printed its pid');
    hooks.controller.abort(new Error('killed by admin'));
    const outcome = await running;
    assertFailed(outcome);
    assert.equal(outcome.aborted, true);
    assert.match(outcome.error.message, /killed by SIGTERM after abort: killed by admin/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(isAlive(grandchild), false);
  });

  test('processes a command leaves in the background die when it exits', async () => {
    const hooks = recordingHooks();
    const outcome = await executor.execute(execRequest(['/bin/sh', '-c', 'sleep 30 > /dev/null 2>&1 & echo $!']), hooks);
    assert.equal(outcome.ok, true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(isAlive(Number((outcome as { result: string }).result)), false);
  });

  test("a run's CPU time counts every child its command waited for, however short-lived", async () => {
    // Five children one after another, each burning 100 ms of its own CPU and printing its total (start-up included).
    const burn = 'let u = 0; while ((u = (process.cpuUsage().user + process.cpuUsage().system) / 1000) < 100); console.log(u)';
    const hooks = recordingHooks();
    const outcome = await executor.execute(execRequest(['/bin/sh', '-c', 'for i in 1 2 3 4 5; do "$0" -e "$1"; done', process.execPath, burn]), hooks);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    const children = hooks.lines.map((line) => Number(line.message));
    assert.equal(children.length, 5);
    const total = children.reduce((sum, ms) => sum + ms, 0);
    // Missed at most: what the group used after its last sample (one period, 100 ms). Added: the shell, and each
    // child's exit after it printed (~25 ms of Node shutting down).
    assert.ok(outcome.cpuMs! >= total - 100 && outcome.cpuMs! <= total + 300, `cpuMs ${outcome.cpuMs} is about the ${total} ms the children used`);
  });

  test("a run's memory sums the processes of its group", async () => {
    const hold = 'const held = Buffer.alloc(48 * 1048576, 1); setTimeout(() => console.log(held.length), 600)';
    const outcome = await executor.execute(execRequest(['/bin/sh', '-c', '"$0" -e "$1" & "$0" -e "$1" & wait', process.execPath, hold]), recordingHooks());
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    // Each child holds 48 MiB (plus Node itself): more than 96 MiB is only reached by adding them up.
    assert.ok(outcome.peakMemoryMb! > 96, `peakMemoryMb ${outcome.peakMemoryMb} adds both children up`);
  });
});

describe('exec executor shutdown', () => {
  test('close kills running groups and their runs end as aborted', async () => {
    const executor = createExecExecutor({ config: testConfig(), logger: silentLogger });
    const hooks = recordingHooks();
    const running = executor.execute(execRequest(['/bin/sh', '-c', 'echo up; sleep 30']), hooks);
    const deadline = Date.now() + 5_000;
    while (hooks.lines.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(executor.runningCount(), 1);
    await executor.close();
    const outcome = await running;
    assertFailed(outcome);
    assert.equal(outcome.aborted, true);
    assert.equal(executor.runningCount(), 0);
  });
});

describe('exec containment choice', () => {
  test('an unknown containment is refused, naming the choices', () => {
    assert.throws(() => testConfig({ execContainment: 'jail' as never }), /execContainment \(JOBCENTER_EXEC_CONTAINMENT\) must be auto, cgroup, pid-namespace, process-group, got "jail"/);
  });

  test('an unknown way to start commands is refused, naming the choices', () => {
    assert.throws(() => testConfig({ execSpawn: 'clone' as never }), /execSpawn \(JOBCENTER_EXEC_SPAWN\) must be auto or fork, got "clone"/);
  });

  test('under a PID namespace, a setsid grandchild dies with its command, and a signal that ended the command is named', async () => {
    const executor = createExecExecutor({ config: testConfig({ execContainment: 'pid-namespace' }), logger: silentLogger });
    try {
      assert.equal(executor.containment, 'pid-namespace');
      const hooks = recordingHooks();
      const leave = "setsid sh -c 'read pid rest < /proc/self/stat; echo $pid; exec sleep 30' & sleep 0.3";
      const outcome = await executor.execute(execRequest(['/bin/sh', '-c', leave]), hooks);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      const grandchild = Number(hooks.lines[0]?.message);
      assert.ok(grandchild > 0, 'the grandchild printed its pid');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(isAlive(grandchild), false);
      const killed = await executor.execute(execRequest(['/bin/sh', '-c', 'kill -USR1 $$']), recordingHooks());
      assertFailed(killed);
      assert.equal(killed.error.code, 'SIGUSR1');
      assert.match(killed.error.message, /^killed by SIGUSR1 \(exit status 138 of the PID namespace's init\)/);
    } finally {
      await executor.close();
    }
  });

  test('a memory limit the containment cannot apply is said in the run log', async () => {
    const executor = createExecExecutor({ config: testConfig({ execContainment: 'process-group' }), logger: silentLogger });
    try {
      const hooks = recordingHooks();
      const outcome = await executor.execute(execRequest(['/bin/sh', '-c', 'echo ran'], { memoryLimitMb: 64 }), hooks);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.ok(hooks.lines.some((l) => l.level === 'warn' && /memoryLimitMb 64 is not applied: exec containment "process-group"/.test(l.message)), JSON.stringify(hooks.lines));
    } finally {
      await executor.close();
    }
  });
});

describe('native spawner fallback', () => {
  test('an addon that does not load is said once, and every command is forked instead', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jc-addon-'));
    try {
      const broken = path.join(dir, 'jobcenter_spawn.node');
      writeFileSync(broken, 'not a shared object');
      const why: string[] = [];
      const spawner = createSpawner('auto', (reason) => why.push(reason), broken);
      assert.equal(spawner.kind, 'vfork', 'the addon is only tried by the first command');
      // The process group's cell: no wrapper and no cgroup to join, so the addon would start the command itself.
      const cell = createContainment('process-group', silentLogger).enter(null);
      for (const word of ['one', 'two']) {
        const child = spawner.start({ file: '/bin/echo', command: 'echo', args: [word], cwd: dir, env: {} }, cell);
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
        const [code] = await Promise.all([
          new Promise((resolve) => child.on('exit', resolve)),
          new Promise((resolve) => child.stdout?.on('end', resolve)),
        ]);
        assert.equal(code, 0);
        assert.equal(out, `${word}\n`);
      }
      assert.equal(spawner.kind, 'fork');
      assert.equal(why.length, 1, JSON.stringify(why));
      assert.match(why[0]!, /jobcenter_spawn\.node does not load: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
