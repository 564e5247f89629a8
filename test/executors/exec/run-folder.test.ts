import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { silentLogger } from '../../../host/log/logger.js';
import { createExecExecutor } from '../../../host/executors/exec/exec-executor.js';
import { createRunFolder } from '../../../host/executors/exec/run-folder.js';
import { recordingHooks, testConfig } from '../helpers.js';

describe('exec run folder', () => {
  test('a run file is private JSON, and removing a run takes its working folder with what the command left in it', async () => {
    const folder = createRunFolder(silentLogger, { filesParent: tmpdir() });
    try {
      const files = await folder.create('{"runId":"r1"}', true);
      assert.equal(readFileSync(files.configFile, 'utf8'), '{"runId":"r1"}');
      assert.equal(statSync(files.configFile).mode & 0o777, 0o600);
      assert.ok(files.workDir && statSync(files.workDir).isDirectory());
      mkdirSync(path.join(files.workDir, 'out'));
      writeFileSync(path.join(files.workDir, 'out', 'report.txt'), 'left behind');
      await files.remove();
      assert.equal(existsSync(files.configFile), false);
      assert.equal(existsSync(files.workDir), false);
      // What the command left is removed in the background, without waiting for close.
      const root = path.dirname(files.workDir);
      const deadline = Date.now() + 5_000;
      while (readdirSync(root).some((name) => name.endsWith('-ended')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(readdirSync(root).filter((name) => name.endsWith('-ended')), []);
    } finally {
      await folder.close();
    }
  });

  test('a run with a folder of its own gets no working folder, and a file the command deleted is no error', async () => {
    const folder = createRunFolder(silentLogger, { filesParent: tmpdir() });
    try {
      const files = await folder.create('{}', false);
      assert.equal(files.workDir, null);
      rmSync(files.configFile);
      await files.remove();
    } finally {
      await folder.close();
    }
  });

  test('the folders are made again when something removed them under a long-lived host', async () => {
    const folder = createRunFolder(silentLogger, { filesParent: tmpdir() });
    try {
      const first = await folder.create('{}', true);
      const roots = [path.dirname(first.configFile), path.dirname(first.workDir!)];
      for (const root of roots) rmSync(root, { recursive: true });
      const second = await folder.create('{"again":true}', true);
      assert.ok(!roots.includes(path.dirname(second.configFile)));
      assert.equal(readFileSync(second.configFile, 'utf8'), '{"again":true}');
      assert.ok(second.workDir && statSync(second.workDir).isDirectory());
      await second.remove();
    } finally {
      await folder.close();
    }
  });

  test('runs one after another each get a fresh, empty working folder of their own', async () => {
    const folder = createRunFolder(silentLogger, { filesParent: tmpdir() });
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const files = await folder.create('{}', true);
        assert.ok(files.workDir && !seen.has(files.workDir));
        seen.add(files.workDir);
        assert.deepEqual(readdirSync(files.workDir), []);
        writeFileSync(path.join(files.workDir, 'mine.txt'), String(i));
        await files.remove();
      }
    } finally {
      await folder.close();
    }
  });

  test('runs created at the same moment never share a working folder', async () => {
    const folder = createRunFolder(silentLogger, { filesParent: tmpdir() });
    try {
      await (await folder.create('{}', true)).remove();
      const runs = await Promise.all(Array.from({ length: 8 }, () => folder.create('{}', true)));
      assert.equal(new Set(runs.map((r) => r.workDir)).size, runs.length);
      await Promise.all(runs.map((r) => r.remove()));
    } finally {
      await folder.close();
    }
  });

  test('run files go to tmpfs where there is one, working folders to the temp folder', { skip: !existsSync('/dev/shm') }, async () => {
    const folder = createRunFolder(silentLogger);
    try {
      const files = await folder.create('{}', true);
      assert.ok(files.configFile.startsWith('/dev/shm/jobcenter-run-'), files.configFile);
      assert.ok(files.workDir!.startsWith(path.join(tmpdir(), 'jobcenter-run-')), files.workDir!);
      await files.remove();
    } finally {
      await folder.close();
    }
  });

  test('close removes both folders with every file still in them', async () => {
    const folder = createRunFolder(silentLogger, { filesParent: tmpdir() });
    const files = await folder.create('{}', true);
    const roots = [path.dirname(files.configFile), path.dirname(files.workDir!)];
    await folder.close();
    for (const root of roots) assert.equal(existsSync(root), false, root);
  });

  test('an exec run that leaves files in its working folder leaves nothing behind, and its run file goes too', async () => {
    const executor = createExecExecutor({ config: testConfig(), logger: silentLogger });
    try {
      const hooks = recordingHooks();
      const script = 'pwd; echo "$JOBCENTER_CONFIG_FILE"; mkdir -p a/b && echo x > a/b/c.txt';
      const outcome = await executor.execute(
        {
          runId: '20000000-0000-4000-8000-000000000001',
          job: { id: 1, name: 'litter', project: 'ops', projectId: 1 },
          kind: 'exec',
          entry: ['/bin/sh', '-c', script],
          params: null,
          config: {},
          scheduledAt: new Date(),
          attempt: 1,
          fencingToken: 'f',
          memoryLimitMb: null,
          shell: false,
          bundle: null,
        },
        hooks,
      );
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      const [cwd, configFile] = hooks.lines.map((l) => l.message);
      assert.ok(cwd && configFile);
      assert.equal(existsSync(cwd), false);
      assert.equal(existsSync(configFile), false);
    } finally {
      await executor.close();
    }
  });
});
