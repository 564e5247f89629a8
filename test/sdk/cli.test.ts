/**
 * docs/getting-started.md, replayed literally: its ```sh blocks, in order, in one bash shell, against a real host
 * started with the samples, in a folder beside a `jobcenter` clone (a link to this repository). The one change made
 * to the text: the doc's http://localhost:8017 becomes the test host's URL. Then the CLI's answers to mistakes, on
 * the project the doc made.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, startHost, type TestHost } from '../helpers/host.js';
import { cli, exec, ROOT, zipModes } from './cli-helpers.js';

const DOC = join(ROOT, 'docs', 'getting-started.md');
const DOC_HOST = 'http://localhost:8017';

/** The doc's ```sh blocks, in order. */
export async function shellBlocks(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

describe('docs/getting-started.md, copied literally, works against a host with the samples', () => {
  let work = '';
  let project = '';
  let host: TestHost;
  let env: NodeJS.ProcessEnv = {};
  const out: string[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jc-sdk-doc-'));
    project = join(work, 'greeter');
    await symlink(ROOT, join(work, 'jobcenter'));
    await mkdir(join(work, 'home'));
    // A reader's machine: their own home (the doc reads ~/.config/jobcenter), the admin password in the
    // environment (login would ask for it), and npm kept off the registry (the install must not need it).
    env = {
      ...process.env,
      HOME: join(work, 'home'),
      XDG_CONFIG_HOME: '',
      JOBCENTER_TOKEN: '',
      JOBCENTER_PASSWORD: ADMIN_PASSWORD,
      npm_config_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    };
    host = await startHost({ options: { seedSamples: true } });
  });
  after(async () => {
    await host?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('every sh block runs, in order, in one shell', async () => {
    const blocks = await shellBlocks(DOC);
    // Steps 1 to 5 are checked below; blocks after them must run too.
    assert.ok(blocks.length >= 5, 'the doc has the five steps this test checks');
    const samples = (await host.api.get('/api/v1/jobs?limit=1000')).body.items as { id: number; state: string }[];
    assert.ok(samples.length > 0, 'the host has the sample jobs');
    // Each block's output is told apart by a marker line, on a line of its own even after output without a final
    // newline (curl's JSON); a failing command stops the script (set -e).
    const script = ['set -euo pipefail', ...blocks.flatMap((b, i) => [`printf '\\n@@@ block ${i + 1}\\n'`, b.replaceAll(DOC_HOST, host.url)])].join('\n');
    const res = await exec('bash', ['-c', script], { cwd: work, env, timeoutMs: 300_000 });
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    out.push(...res.stdout.split(/\n@@@ block \d+\n/).slice(1));
    assert.equal(out.length, blocks.length, res.stdout);

    // 1: init, install, test
    assert.match(out[0]!, /created a thread project "greeter"/);
    assert.match(out[0]!, /# pass 2\n/);
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
    assert.equal(pkg.devDependencies['@jobcenter/sdk'], `file:${join(ROOT, 'sdk')}`);
    assert.match(pkg.devDependencies.typescript, /^file:.*node_modules\/typescript$/);
    // 2: a local run
    assert.match(out[1]!, /INFO {2}Hello from dev, Ada! \(run 1\)\nSUCCEEDED in \d+ ms\nresult: Hello from dev, Ada! \(run 1\)\n$/);
    // 3: pack
    assert.match(out[2]!, /packed greeter 0\.1\.0 \(thread\): bundles\/greeter-0\.1\.0\.zip\n {2}\d+ files, \d+ bytes\n {2}sha256 [0-9a-f]{64}\n$/);
    // 4: login and upload
    assert.match(out[3]!, /logged in to .* as admin; token stored in .*home\/\.config\/jobcenter\/credentials\.json/);
    assert.match(out[3]!, /created trusted project greeter \(id (\d+)\)\nuploaded greeter-0\.1\.0\.zip to project greeter \(id \1\): version 1 \(bundle id \d+, thread\)\n {2}exports: hello \(job\)\n/);
    // 5: the job, a run's log and result, and the stop
    const [, projectId, jobId] = /^project (\d+), job (\d+)$/m.exec(out[4]!) ?? [];
    assert.ok(projectId && jobId, out[4]);
    assert.ok(!samples.some((j) => j.id === Number(jobId)), 'a new job, not a sample');
    assert.match(out[4]!, /INFO \[[0-9a-f-]{36}\] Hello from dev, JobCenter! \(run \d+\)\n/);
    assert.match(out[4]!, /"status":"SUCCEEDED"/);
    const job = (await host.api.get(`/api/v1/jobs/${jobId}`)).body;
    assert.equal(job.projectId, Number(projectId));
    assert.equal(job.name, 'greeter-every-second');
    assert.equal(job.state, 'STOPPED');
    // The samples were left as they were.
    const after = (await host.api.get('/api/v1/jobs?limit=1000')).body.items as { id: number; state: string }[];
    for (const sample of samples) assert.equal(after.find((j) => j.id === sample.id)?.state, sample.state);
  });

  test('run of a missing export fails with exit 1 and names the jobs there are', async () => {
    const res = await cli(['run', 'nope'], project, env);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /FAILED .*no job export "nope" \(jobs: hello\)/);
  });

  test('the zip holds the compiled code, config, package.json and the SDK runtime', async () => {
    const names = [...(await zipModes(join(project, 'bundles', 'greeter-0.1.0.zip'))).keys()];
    const own = names.filter((n) => !n.startsWith('node_modules/'));
    assert.deepEqual(own, ['config/app-dev.properties', 'config/app.properties', 'dist/src/index.js', 'jobcenter.json', 'package.json']);
    // The job imports defineJob at run time: the SDK's library goes along, its CLI (and esbuild) does not.
    assert.ok(names.includes('node_modules/@jobcenter/sdk/dist/index.js'));
    assert.ok(names.includes('node_modules/@jobcenter/sdk/package.json'));
    assert.ok(!names.some((n) => n.includes('/dist/cli/') || n.includes('esbuild') || n.endsWith('.d.ts') || n.includes('dist/test/')));
  });

  test('login stored the host and a token readable by its owner only', async () => {
    const file = join(work, 'home', '.config', 'jobcenter', 'credentials.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const creds = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(creds.host, host.url);
    assert.equal(typeof creds.token, 'string');
  });

  test('login with a wrong password fails with the host\'s message and stores nothing', async () => {
    const home = join(work, 'other-home');
    const res = await cli(['login', '--host', host.url, '--username', 'admin', '--password', 'wrong'], project, { ...env, HOME: home });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /jobcenter-sdk login: POST \/api\/v1\/auth\/login failed: 401 /);
    await assert.rejects(stat(join(home, '.config', 'jobcenter', 'credentials.json')));
  });

  test('upload to a project that does not exist fails unless --create is given', async () => {
    const res = await cli(['upload', '--project', 'greeter-two'], project, env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no project named "greeter-two" on .* \(add --create to create it\)/);
  });
});
