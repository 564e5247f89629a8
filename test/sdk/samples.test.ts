import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import unzipper from 'unzipper';
import { loadConfig, runLocal, type PJob } from '@jobcenter/sdk';

const run = promisify(execFile);

/** The repository root, both from test/sdk (tsx) and from dist/test/sdk (compiled). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'scripts', 'build-samples.mjs'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root above the test file');
    dir = parent;
  }
  return dir;
}

async function zipEntries(path: string): Promise<Map<string, { mode: number; content: () => Promise<Buffer> }>> {
  const directory = await unzipper.Open.file(path);
  return new Map(directory.files.map((f) => [f.path, { mode: (f.externalFileAttributes >>> 16) & 0o7777, content: () => f.buffer() }]));
}

describe('the sample bundles', () => {
  const root = repoRoot();
  let out = '';
  let buildOutput = '';

  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'jobcenter-samples-'));
    const { stdout } = await run(process.execPath, [join(root, 'scripts', 'build-samples.mjs'), '--out', out, '--force'], {
      timeout: 60_000,
    });
    buildOutput = stdout;
  });
  after(async () => rm(out, { recursive: true, force: true }));

  test('the build script prints one line per bundle', () => {
    const lines = buildOutput.trim().split('\n');
    assert.equal(lines.length, 3, buildOutput);
    assert.match(lines[0], /^samples: hello → .*hello\.zip \(thread, 5 files/);
    assert.match(lines[1], /^samples: module-demo → .*module-demo\.zip \(module, 4 files/);
    assert.match(lines[2], /^samples: shell → .*shell\.zip \(exec, 3 files/);
  });

  test('the hello bundle holds the manifest, compiled code, config and an ESM package.json, but no sources', async () => {
    const entries = await zipEntries(join(out, 'hello.zip'));
    assert.deepEqual([...entries.keys()].sort(), [
      'config/hello-dev.properties',
      'config/hello.properties',
      'dist/index.js',
      'jobcenter.json',
      'package.json',
    ]);
    const pkg = JSON.parse((await entries.get('package.json')!.content()).toString('utf8'));
    assert.equal(pkg.type, 'module');
    const manifest = JSON.parse((await entries.get('jobcenter.json')!.content()).toString('utf8'));
    assert.deepEqual([manifest.name, manifest.main, manifest.kind], ['hello', 'dist/index.js', 'thread']);
  });

  test('the shell bundle keeps the executable mode of run.sh and the script runs from the extracted bundle', async (t) => {
    const entries = await zipEntries(join(out, 'shell.zip'));
    assert.deepEqual([...entries.keys()].sort(), ['config/shell.properties', 'jobcenter.json', 'run.sh']);
    assert.equal(entries.get('run.sh')!.mode, 0o755);
    assert.equal(entries.get('jobcenter.json')!.mode, 0o644);

    const dir = await mkdtemp(join(tmpdir(), 'jobcenter-shell-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'run.sh'), await entries.get('run.sh')!.content());
    await chmod(join(dir, 'run.sh'), entries.get('run.sh')!.mode);
    // The shape host/runner writes for JOBCENTER_CONFIG_FILE, pretty-printed to make the sh parsing work for it.
    const runFile = { runId: 'run-123', job: { id: 1, name: 'disk-usage', project: 'shell' }, params: { target: '/nope' }, config: { other: 'x', target: dir }, attempt: 1 };
    await writeFile(join(dir, 'config.json'), JSON.stringify(runFile, null, 2));
    const env = { PATH: process.env.PATH, JOBCENTER_RUN_ID: 'run-123', JOBCENTER_PARAMS: '{"human":true}', JOBCENTER_CONFIG_FILE: join(dir, 'config.json') };
    const { stdout } = await run('./run.sh', [], { cwd: dir, env, timeout: 10_000 });
    assert.match(stdout, /run id: run-123/);
    assert.match(stdout, /params: \{"human":true\}/);
    assert.ok(stdout.includes(`config target: ${dir}`), stdout);
  });

  test('jobs.json is copied beside each zip and holds job bodies without projectId', async () => {
    const hello = JSON.parse(await readFile(join(out, 'hello.jobs.json'), 'utf8')) as Record<string, unknown>[];
    assert.deepEqual(hello.map((j) => j.name), ['hello-every-10s', 'hello-cron', 'slow-manual']);
    const shell = JSON.parse(await readFile(join(out, 'shell.jobs.json'), 'utf8')) as Record<string, unknown>[];
    assert.deepEqual(shell.map((j) => [j.name, j.kind, j.concurrency]), [['disk-usage', 'exec', 'WAIT']]);
    for (const job of [...hello, ...shell]) assert.equal('projectId' in job, false);
  });

  test('the built hello job greets with its dev-profile config and counts its runs in the cache', async () => {
    const sample = join(root, 'samples', 'hello');
    const { hello } = (await import(pathToFileURL(join(sample, 'dist', 'index.js')).href)) as { hello: PJob<{ name?: string }> };
    const config = await loadConfig({ dir: sample, file: 'hello.properties', profile: 'dev' });
    const cache = new Map<string, unknown>();
    const first = await runLocal(hello, { params: { name: 'JobCenter' }, config, cache, jobName: 'hello-every-10s' });
    assert.equal(first.result, 'Hello from dev, JobCenter! (run 1)');
    assert.match(first.logs[0].message, /job hello-every-10s, attempt 1/);
    const second = await runLocal(hello, { config: await loadConfig({ dir: sample, file: 'hello.properties' }), cache });
    assert.equal(second.result, 'Hello, World! (run 2)');
  });

  test('the built slow job finishes after params.ms and stops as soon as it is aborted', async () => {
    const { slow } = (await import(pathToFileURL(join(root, 'samples', 'hello', 'dist', 'index.js')).href)) as {
      slow: PJob<{ ms?: number }>;
    };
    assert.equal((await runLocal(slow, { params: { ms: 20 } })).result, 'waited 20 ms');
    const controller = new AbortController();
    const started = Date.now();
    const killed = runLocal(slow, { params: { ms: 10_000 }, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('killed')), 30);
    await assert.rejects(killed, (err: Error & { logs: { message: string }[] }) => {
      assert.equal(err.message, 'killed');
      assert.ok(err.logs.some((l) => /aborted/.test(l.message)));
      return true;
    });
    assert.ok(Date.now() - started < 2_000);
  });
});
