/**
 * What the CLI checks for a job author (issue 23): build and pack type-check first; run builds a stale dist/;
 * upload warns about a zip older than its sources and refuses a folder plainly; a thread job's stack names its
 * src/…ts in `jobcenter-sdk run` and on the host (the build's source maps).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transform } from 'esbuild';
import { ADMIN_PASSWORD, startHost, type TestHost } from '../helpers/host.js';
import { finishedRun } from '../helpers/runs.js';
import { zip } from '../helpers/zip.js';
import { cli, npm, SDK_DIR } from './cli-helpers.js';

const TYPE_ERROR = `
export function total(before: number, step: number): number {
  const total: number = before + String(step);
  return total;
}
`;
const TS2322 = /^src\/index\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'\.$/m;
const BOOM = `
export const boom = defineJob({
  async execute() {
    throw new Error('boom from the source');
  },
});
`;

let work = '';
const env: NodeJS.ProcessEnv = {};

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'jc-sdk-checks-'));
  env.XDG_CONFIG_HOME = join(work, 'xdg');
  env.JOBCENTER_TOKEN = '';
  env.JOBCENTER_PASSWORD = '';
});
after(() => rm(work, { recursive: true, force: true }));

/** init (thread) + npm install; `extra` are more init flags. */
async function scaffold(name: string, extra: string[] = []): Promise<string> {
  const init = await cli(['init', name, '--sdk-path', SDK_DIR, ...extra], work, env);
  assert.equal(init.code, 0, init.stderr);
  const dir = join(work, name);
  const install = await npm(['install'], dir);
  assert.equal(install.code, 0, install.stderr);
  return dir;
}

/** The line of `text` in src/index.ts (1-based). */
async function lineOf(dir: string, text: string): Promise<number> {
  return (await readFile(join(dir, 'src', 'index.ts'), 'utf8')).split('\n').findIndex((l) => l.includes(text)) + 1;
}

describe('build and pack type-check first', () => {
  test('a type error is printed as tsc prints it, exits 1, and neither dist/ nor a zip is written; --no-typecheck skips the check', async () => {
    const dir = await scaffold('typed');
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    assert.match(pkg.devDependencies.typescript, /^file:/, 'made from a checkout: TypeScript linked from it');
    await appendFile(join(dir, 'src', 'index.ts'), TYPE_ERROR);

    const build = await cli(['build'], dir, env);
    assert.equal(build.code, 1, build.stdout);
    assert.match(build.stderr, TS2322);
    assert.match(build.stderr, /jobcenter-sdk build: type check failed \(tsc --noEmit, the project's TypeScript 5\.\d+\.\d+\): fix the errors above, or pass --no-typecheck/);
    assert.ok(!existsSync(join(dir, 'dist')));

    const pack = await cli(['pack'], dir, env);
    assert.equal(pack.code, 1, pack.stdout);
    assert.match(pack.stderr, TS2322);
    assert.match(pack.stderr, /jobcenter-sdk pack: type check failed/);
    assert.ok(!existsSync(join(dir, 'bundles')));

    const unchecked = await cli(['build', '--no-typecheck'], dir, env);
    assert.equal(unchecked.code, 0, unchecked.stderr);
    const packed = await cli(['pack', '--no-typecheck'], dir, env);
    assert.equal(packed.code, 0, packed.stderr);
    assert.ok(existsSync(join(dir, 'bundles', 'typed-0.1.0.zip')));
  });

  test('a project without TypeScript of its own is checked by the SDK\'s, with the SDK\'s @types/node', async () => {
    const dir = await scaffold('untyped', ['--no-typecheck']);
    assert.ok(!existsSync(join(dir, 'node_modules', 'typescript')));
    const clean = await cli(['build'], dir, env);
    assert.equal(clean.code, 0, clean.stderr);
    await appendFile(join(dir, 'src', 'index.ts'), TYPE_ERROR);
    const build = await cli(['build'], dir, env);
    assert.equal(build.code, 1, build.stdout);
    assert.match(build.stderr, TS2322);
    assert.match(build.stderr, /type check failed \(tsc --noEmit, the SDK's TypeScript 5\.\d+\.\d+\)/);
  });
});

describe('a thread project on its way to a host', () => {
  let host: TestHost;
  let dir = '';

  before(async () => {
    host = await startHost();
    dir = await scaffold('greeter');
    const built = await cli(['build'], dir, env);
    assert.equal(built.code, 0, built.stderr);
    const login = await cli(['login', '--host', host.url], dir, { ...env, JOBCENTER_PASSWORD: ADMIN_PASSWORD });
    assert.equal(login.code, 0, login.stderr);
  });
  after(() => host?.stop());

  /** Creates a MANUAL job, runs it once, and returns the stack of its error: the run must fail. */
  async function failedStack(body: Record<string, unknown>): Promise<string> {
    const created = await host.api.post('/api/v1/jobs', { ...body, schedule: { type: 'MANUAL' } });
    assert.equal(created.status, 201, created.text);
    const trig = await host.api.post(`/api/v1/jobs/${created.body.id}/trigger`);
    assert.equal(trig.status, 202, trig.text);
    const run = await finishedRun(host.api, trig.body.runId, { timeoutMs: 30_000 });
    assert.equal(run.status, 'FAILED');
    return (run.error as { stack?: string } | null)?.stack ?? '';
  }

  test('run builds first when src/ changed after the build, and the stack of a failing job names src/index.ts', async () => {
    await appendFile(join(dir, 'src', 'index.ts'), BOOM);
    const res = await cli(['run', 'boom'], dir, env);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stdout, /^src\/index\.ts changed after the last build: running npm run build\n/);
    assert.match(res.stdout, /FAILED in \d+ ms: boom from the source\n/);
    const line = await lineOf(dir, 'boom from the source');
    assert.match(res.stderr, new RegExp(`^Error: boom from the source\\n\\s+at .*${dir}/src/index\\.ts:${line}:\\d+\\)?$`, 'm'));
    assert.doesNotMatch(res.stderr, /dist\/src\/index\.js/);
    // Built now: the next run does not build again.
    const again = await cli(['run', 'hello'], dir, env);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /running npm run build/);
  });

  test('run builds a missing dist/', async () => {
    await rm(join(dir, 'dist'), { recursive: true });
    const res = await cli(['run', 'hello'], dir, env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^dist\/src\/index\.js does not exist: running npm run build\n/);
  });

  test('upload of a folder says so, without a stack', async () => {
    const res = await cli(['upload', '.', '--project', 'greeter'], dir, env);
    assert.equal(res.code, 1);
    assert.equal(res.stderr, `jobcenter-sdk upload: . is a folder, not a bundle zip: to upload that project's bundle, pack it and pass --dir .\n`);
    const other = await cli(['upload', 'src', '--project', 'greeter'], dir, env);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /^jobcenter-sdk upload: src is a folder, not a bundle zip: pass the zip that jobcenter-sdk pack wrote/);
    assert.doesNotMatch(res.stderr + other.stderr, /EISDIR|\n\s+at /);
  });

  test('upload warns when the zip is older than a file under src/ or config/, and uploads it', async () => {
    const pack = await cli(['pack'], dir, env);
    assert.equal(pack.code, 0, pack.stderr);
    const fresh = await cli(['upload', '--create', '--trusted'], dir, env);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(fresh.stderr, '');
    // A change after the pack: the zip would upload the code from before it.
    const later = new Date(Date.now() + 5_000);
    await utimes(join(dir, 'config', 'app.properties'), later, later);
    const stale = await cli(['upload'], dir, env);
    assert.equal(stale.code, 0, stale.stderr);
    assert.equal(stale.stderr, 'warning: bundles/greeter-0.1.0.zip is older than config/app.properties: it does not hold your latest changes (run jobcenter-sdk pack first)\n');
    assert.match(stale.stdout, /version 2 /);
  });

  test('on the host, a thread job\'s error stack names src/index.ts', async () => {
    const projects = (await host.api.get('/api/v1/projects?q=greeter')).body.items as { id: number; name: string }[];
    const projectId = projects.find((p) => p.name === 'greeter')!.id;
    const stack = await failedStack({ projectId, name: 'boom', kind: 'thread', entry: 'boom' });
    const line = await lineOf(dir, 'boom from the source');
    assert.match(stack, new RegExp(`^\\s+at .*\\bsrc/index\\.ts:${line}:\\d+\\)?$`, 'm'), stack);
    assert.doesNotMatch(stack, /dist\/src\/index\.js/);
  });

  test('on the host, a module job bean\'s error stack names its TypeScript source too', async () => {
    const source = ['// a module bean that throws', 'export default {', '  beans: {', '    boom: () => ({', '      execute(): string {', "        throw new Error('module boom');", '      },', '    }),', '  },', '};', ''].join('\n');
    const { code } = await transform(source, { loader: 'ts', format: 'esm', sourcemap: 'inline', sourcefile: 'src/index.ts' });
    const bundle = await zip({ 'jobcenter.json': JSON.stringify({ name: 'modular', version: '1.0.0', main: 'index.mjs', kind: 'module' }), 'index.mjs': code });
    const project = await host.api.post('/api/v1/projects', { name: 'modular', trusted: true });
    assert.equal(project.status, 201, project.text);
    const upload = await host.api.upload(project.body.id, bundle);
    assert.equal(upload.status, 201, upload.text);
    const stack = await failedStack({ projectId: project.body.id, name: 'module-boom', kind: 'module', entry: 'boom' });
    assert.match(stack, /^\s+at .*\bsrc\/index\.ts:6:\d+\)?$/m, stack);
    assert.doesNotMatch(stack, /index\.mjs/);
  });
});
