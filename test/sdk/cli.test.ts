/**
 * The path of docs/getting-started.md, replayed with the real CLI and a real host: init, install (offline: the
 * sdk is a file: dependency), test, run, pack, login, upload, then a job on a cron every second.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, eventually, startHost, type TestHost } from '../helpers/host.js';
import { cli, exec, npm, ROOT, SDK_DIR, zipModes } from './cli-helpers.js';

describe('getting started with the jobcenter-sdk CLI, replayed against a real host', () => {
  let work = '';
  let project = '';
  let host: TestHost;
  let env: NodeJS.ProcessEnv = {};

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jc-sdk-cli-'));
    project = join(work, 'greeter');
    env = { XDG_CONFIG_HOME: join(work, 'xdg'), JOBCENTER_PASSWORD: '', JOBCENTER_TOKEN: '' };
    host = await startHost({ options: { samplesDir: undefined } });
  });
  after(async () => {
    await host?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('init creates a thread project that depends on the local sdk', async () => {
    const res = await cli(['init', 'greeter', '--sdk-path', SDK_DIR, '--no-typecheck'], work, env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /created a thread project "greeter"/);
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
    assert.equal(pkg.devDependencies['@jobcenter/sdk'], `file:${SDK_DIR}`);
    const manifest = JSON.parse(await readFile(join(project, 'jobcenter.json'), 'utf8'));
    assert.deepEqual({ ...manifest, description: undefined }, { name: 'greeter', version: '0.1.0', kind: 'thread', main: 'dist/src/index.js', description: undefined });
  });

  test('npm install needs no registry, and the new project builds and tests green', async () => {
    const install = await npm(['install'], project, env);
    assert.equal(install.code, 0, install.stderr);
    const tested = await exec('npm', ['test'], { cwd: project, timeoutMs: 60_000 });
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 2/);
  });

  test('the generated sources type-check under strict TypeScript', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const res = await exec(process.execPath, [tsc, '-p', project, '--noEmit', '--typeRoots', join(ROOT, 'node_modules', '@types')], { cwd: project, timeoutMs: 60_000 });
    assert.equal(res.code, 0, res.stdout + res.stderr);
  });

  test('run prints the log and the result, and keeps the cache between invocations', async () => {
    const args = ['run', 'hello', '--config-file', 'app.properties', '--profile', 'dev', '--params', '{"name":"Ada"}'];
    const first = await cli(args, project, env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /INFO {2}Hello from dev, Ada! \(run 1\)/);
    assert.match(first.stdout, /result: Hello from dev, Ada! \(run 1\)\n$/);
    const second = await cli(args, project, env);
    assert.match(second.stdout, /result: Hello from dev, Ada! \(run 2\)/);
    const fresh = await cli([...args, '--fresh-cache'], project, env);
    assert.match(fresh.stdout, /result: Hello from dev, Ada! \(run 1\)/);
  });

  test('run of a missing export fails with exit 1 and names the jobs there are', async () => {
    const res = await cli(['run', 'nope'], project, env);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /FAILED .*no job export "nope" \(jobs: hello\)/);
  });

  test('pack builds the zip with the compiled code, config, package.json and the SDK runtime, and prints size and sha256', async () => {
    const res = await cli(['pack'], project, env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /packed greeter 0\.1\.0 \(thread\): bundles\/greeter-0\.1\.0\.zip\n {2}\d+ files, \d+ bytes\n {2}sha256 [0-9a-f]{64}\n$/);
    const names = [...(await zipModes(join(project, 'bundles', 'greeter-0.1.0.zip'))).keys()];
    const own = names.filter((n) => !n.startsWith('node_modules/'));
    assert.deepEqual(own, ['config/app-dev.properties', 'config/app.properties', 'dist/src/index.js', 'jobcenter.json', 'package.json']);
    // The job imports defineJob at run time: the SDK's library goes along, its CLI (and esbuild) does not.
    assert.ok(names.includes('node_modules/@jobcenter/sdk/dist/index.js'));
    assert.ok(names.includes('node_modules/@jobcenter/sdk/package.json'));
    assert.ok(!names.some((n) => n.includes('/dist/cli/') || n.includes('esbuild') || n.endsWith('.d.ts') || n.includes('dist/test/')));
  });

  test('login with a wrong password fails with the host\'s message and stores nothing', async () => {
    const res = await cli(['login', '--host', host.url, '--username', 'admin', '--password', 'wrong'], project, env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /jobcenter-sdk login: POST \/api\/v1\/auth\/login failed: 401 /);
    await assert.rejects(stat(join(work, 'xdg', 'jobcenter', 'credentials.json')));
  });

  test('login stores the host and a token readable by its owner only', async () => {
    const res = await cli(['login', '--host', host.url], project, { ...env, JOBCENTER_PASSWORD: ADMIN_PASSWORD });
    assert.equal(res.code, 0, res.stderr);
    const file = join(work, 'xdg', 'jobcenter', 'credentials.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const creds = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(creds.host, host.url);
    assert.equal(typeof creds.token, 'string');
  });

  test('upload to a project that does not exist fails unless --create is given', async () => {
    const res = await cli(['upload', '--project', 'greeter'], project, env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no project named "greeter" on .* \(add --create to create it\)/);
  });

  test('upload --create --trusted creates the trusted project and prints the new version and its exports', async () => {
    const res = await cli(['upload', '--project', 'greeter', '--create', '--trusted'], project, env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /created trusted project greeter \(id \d+\)/);
    assert.match(res.stdout, /to project greeter \(id \d+\): version 1 \(bundle id \d+, thread\)\n {2}exports: hello \(job\)/);
  });

  test('a job created over the API on a cron every second runs the uploaded code', async () => {
    const projects = await host.api.get('/api/v1/projects');
    const projectId = projects.body.items.find((p: { name: string }) => p.name === 'greeter').id;
    const created = await host.api.post('/api/v1/jobs', {
      projectId,
      name: 'greeter-every-second',
      kind: 'thread',
      entry: 'hello',
      params: { name: 'JobCenter' },
      configFile: 'app.properties',
      profile: 'dev',
      schedule: { type: 'CRON', cron: '* * * * * *' },
      concurrency: 'SKIP',
      start: true,
    });
    assert.equal(created.status, 201, created.text);
    const runs = await eventually('two succeeded runs', async () => {
      const page = await host.api.get(`/api/v1/runs?jobId=${created.body.id}&status=SUCCEEDED`);
      return page.body.items.length >= 2 ? page.body.items : undefined;
    }, 20_000);
    assert.match(runs[0].result, /^Hello from dev, JobCenter! \(run \d+\)$/);
    await host.api.post(`/api/v1/jobs/${created.body.id}/stop`);
  });
});
