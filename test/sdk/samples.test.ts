import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import unzipper from 'unzipper';
import { createTestContext, loadConfig, runLocal, type PJob, type PJobResolver } from '@jobcenter/sdk';

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

/** Every sample folder and its kind, in the order the build script goes (by name). */
const SAMPLES = [
  ['deps-demo', 'thread'],
  ['hello', 'thread'],
  ['isolate-demo', 'isolate'],
  ['module-demo', 'module'],
  ['python', 'exec'],
  ['resolver-demo', 'thread'],
  ['shell', 'exec'],
] as const;

/** deps-demo's report of its jobs.json params: dayjs adds 20 days to 2024-02-10 (a leap year), lodash groups and sums. */
const DEPS_RESULT = 'deadline Fri 1 Mar 2024 (2 weeks); api=5h web=5.5h';

async function zipHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.zip')).sort()) {
    out[name] = createHash('sha256').update(await readFile(join(dir, name))).digest('hex');
  }
  return out;
}

/** How the build script shows a zip path: relative to the repository root. */
function relativeZip(root: string, out: string, name: string): string {
  return relative(root, join(out, `${name}.zip`)).split('\\').join('/');
}

describe('the sample bundles', () => {
  const root = repoRoot();
  let out = '';
  let buildOutput = '';

  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'jobcenter-samples-'));
    // Each TypeScript sample is type-checked (tsc): slow on a busy machine.
    const { stdout } = await run(process.execPath, [join(root, 'scripts', 'build-samples.mjs'), '--out', out, '--force'], {
      timeout: 180_000,
    });
    buildOutput = stdout;
  });
  after(async () => rm(out, { recursive: true, force: true }));

  test('the build script packs every sample with the SDK CLI and prints one line per bundle', () => {
    const lines = buildOutput.trim().split('\n');
    assert.equal(lines.length, SAMPLES.length, buildOutput);
    SAMPLES.forEach(([name, kind], i) => {
      assert.match(lines[i], new RegExp(`^samples: ${name} → .*${name}\\.zip \\(${kind}, \\d+ files, \\d+ bytes, \\d+ jobs\\)$`));
    });
  });

  test('a second build skips every sample whose zip is newer than its inputs, and a forced one gives the same bytes', async () => {
    const hashes = await zipHashes(out);
    const again = await run(process.execPath, [join(root, 'scripts', 'build-samples.mjs'), '--out', out], { timeout: 60_000 });
    assert.deepEqual(again.stdout.trim().split('\n'), SAMPLES.map(([name]) => `samples: ${name} up to date (${relativeZip(root, out, name)})`));
    const forced = await mkdtemp(join(tmpdir(), 'jobcenter-samples-again-'));
    try {
      await run(process.execPath, [join(root, 'scripts', 'build-samples.mjs'), '--out', forced, '--force'], { timeout: 180_000 });
      assert.deepEqual(await zipHashes(forced), hashes);
    } finally {
      await rm(forced, { recursive: true, force: true });
    }
  });

  test('the hello bundle holds the manifest, compiled code, config and an ESM package.json, but no sources', async () => {
    const entries = await zipEntries(join(out, 'hello.zip'));
    assert.deepEqual([...entries.keys()].sort(), [
      'config/hello-dev.properties',
      'config/hello.properties',
      'dist/src/index.js',
      'jobcenter.json',
      'package.json',
    ]);
    const pkg = JSON.parse((await entries.get('package.json')!.content()).toString('utf8'));
    assert.equal(pkg.type, 'module');
    const manifest = JSON.parse((await entries.get('jobcenter.json')!.content()).toString('utf8'));
    assert.deepEqual([manifest.name, manifest.main, manifest.kind], ['hello', 'dist/src/index.js', 'thread']);
  });

  test('the module-demo and resolver-demo bundles carry their compiled main and config, and no node_modules', async () => {
    assert.deepEqual([...(await zipEntries(join(out, 'module-demo.zip'))).keys()].sort(), [
      'config/application-dev.properties',
      'config/application.properties',
      'dist/src/index.js',
      'jobcenter.json',
      'package.json',
    ]);
    assert.deepEqual([...(await zipEntries(join(out, 'resolver-demo.zip'))).keys()].sort(), [
      'config/weather.properties',
      'dist/src/index.js',
      'jobcenter.json',
      'package.json',
    ]);
  });

  test('the isolate-demo bundle is one CommonJS script that needs nothing from Node', async () => {
    const entries = await zipEntries(join(out, 'isolate-demo.zip'));
    assert.deepEqual([...entries.keys()].sort(), ['config/words.properties', 'index.js', 'jobcenter.json']);
    const manifest = JSON.parse((await entries.get('jobcenter.json')!.content()).toString('utf8'));
    assert.deepEqual([manifest.kind, manifest.main], ['isolate', 'index.js']);
    const script = (await entries.get('index.js')!.content()).toString('utf8');
    assert.doesNotMatch(script, /\brequire\(|^\s*(import|export)\s/m);
    // Evaluated the way an isolate sees it: module and exports only, no require, process or globals of Node.
    const cjs = { exports: {} as Record<string, PJob<unknown>> };
    runInNewContext(script, { module: cjs, exports: cjs.exports });
    assert.deepEqual(Object.keys(cjs.exports).sort(), ['fibonacci', 'words']);
    const words = await runLocal(cjs.exports.words, { params: { text: 'a b a C c c' }, config: { top: '2' } });
    assert.equal(words.result, '6 words, 3 distinct; top: c=3 a=2');
  });

  test('the deps-demo bundle carries dayjs and lodash in its own node_modules and runs from the extracted bundle', async (t) => {
    const entries = await zipEntries(join(out, 'deps-demo.zip'));
    const names = [...entries.keys()];
    const packages = new Set(names.filter((n) => n.startsWith('node_modules/')).map((n) => n.split('/')[1]));
    assert.deepEqual([...packages].sort(), ['dayjs', 'lodash'], 'production dependencies only, no @types');
    assert.ok(entries.has('node_modules/dayjs/package.json') && entries.has('node_modules/lodash/package.json'));
    assert.ok(entries.has('node_modules/dayjs/plugin/utc.js') && entries.has('node_modules/lodash/lodash.js'));
    assert.deepEqual(names.filter((n) => !n.startsWith('node_modules/')).sort(), ['config/deps.properties', 'dist/src/index.js', 'jobcenter.json', 'package.json']);

    // Outside the repository no hoisted node_modules is above it: the job can only load what the bundle holds.
    const dir = await mkdtemp(join(tmpdir(), 'jobcenter-deps-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    for (const [name, entry] of entries) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), await entry.content());
    }
    const { report } = (await import(pathToFileURL(join(dir, 'dist', 'src', 'index.js')).href)) as { report: PJob<unknown> };
    const jobs = JSON.parse(await readFile(join(out, 'deps-demo.jobs.json'), 'utf8')) as { params: unknown }[];
    const config = await loadConfig({ dir, file: 'deps.properties' });
    const done = await runLocal(report, { params: jobs[0].params, config });
    assert.equal(done.result, DEPS_RESULT);
    assert.match(done.logs[0].message, /^lodash 4\.\d+\.\d+, 2 teams$/);
  });

  test('the python bundle keeps job.py executable and the script prints its result from params and config', async (t) => {
    const entries = await zipEntries(join(out, 'python.zip'));
    assert.deepEqual([...entries.keys()].sort(), ['config/python.properties', 'job.py', 'jobcenter.json', 'jobs.json']);
    assert.equal(entries.get('job.py')!.mode, 0o755);
    const dir = await mkdtemp(join(tmpdir(), 'jobcenter-python-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'job.py'), await entries.get('job.py')!.content());
    await writeFile(join(dir, 'config.json'), JSON.stringify({ runId: 'run-7', params: null, config: { scale: '3' } }));
    const env = { ...process.env, JOBCENTER_RUN_ID: 'run-7', JOBCENTER_PARAMS: '{"numbers":[1,2,3]}', JOBCENTER_CONFIG_FILE: join(dir, 'config.json') };
    const { stdout } = await run('python3', ['job.py'], { cwd: dir, env, timeout: 10_000 });
    assert.match(stdout, /^run id: run-7$/m);
    assert.equal(stdout.trim().split('\n').at(-1), 'sum=18 mean=6');
  });

  test('the shell bundle keeps the executable mode of run.sh and the script runs from the extracted bundle', async (t) => {
    const entries = await zipEntries(join(out, 'shell.zip'));
    // An exec bundle is the project's files as they are (jobs.json included: pack does not know it is the host's).
    assert.deepEqual([...entries.keys()].sort(), ['config/shell.properties', 'jobcenter.json', 'jobs.json', 'run.sh']);
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
    const all: Record<string, unknown>[] = [];
    const names: Record<string, unknown[]> = {};
    for (const [sample] of SAMPLES) {
      const jobs = JSON.parse(await readFile(join(out, `${sample}.jobs.json`), 'utf8')) as Record<string, unknown>[];
      names[sample] = jobs.map((j) => j.name);
      all.push(...jobs);
    }
    assert.deepEqual(names, {
      'deps-demo': ['deps-report'],
      hello: ['hello-every-10s', 'hello-cron', 'slow-manual'],
      'isolate-demo': ['isolate-words', 'isolate-fibonacci-cron'],
      'module-demo': ['module-count-every-15s', 'module-add-person'],
      python: ['python-stats'],
      'resolver-demo': ['weather-resolver'],
      shell: ['disk-usage'],
    });
    const shell = all.find((j) => j.name === 'disk-usage')!;
    assert.deepEqual([shell.kind, shell.concurrency], ['exec', 'WAIT']);
    assert.deepEqual(all.find((j) => j.name === 'python-stats')!.entry, ['python3', 'job.py']);
    assert.deepEqual(all.find((j) => j.name === 'isolate-fibonacci-cron')!.schedule, { type: 'CRON', cron: '30 * * * * *', timezone: 'UTC' });
    for (const job of all) assert.equal('projectId' in job, false);
  });

  test('the built resolver returns one CRON weather sub-job per city, and weather reads the units from config', async () => {
    const built = pathToFileURL(join(root, 'samples', 'resolver-demo', 'dist', 'src', 'index.js')).href;
    const { cities, weather } = (await import(built)) as { cities: PJobResolver<unknown>; weather: PJob<unknown> };
    const { ctx } = createTestContext({ params: { cities: ['Paris', 'São Paulo'] } });
    const specs = await cities.resolve(ctx);
    assert.deepEqual(specs.map((s) => [s.name, s.entry, s.params, s.schedule.type]), [
      ['weather-paris', 'weather', { city: 'Paris' }, 'CRON'],
      ['weather-sao-paulo', 'weather', { city: 'São Paulo' }, 'CRON'],
    ]);
    assert.match((await runLocal(weather, { params: { city: 'Oslo' }, config: { units: 'fahrenheit' } })).result!, /^Oslo: -?\d+°F$/);
    assert.match((await runLocal(weather, { params: { city: 'Oslo' } })).result!, /^Oslo: -?\d+°C$/);
  });

  test('the built hello job greets with its dev-profile config and counts its runs in the cache', async () => {
    const sample = join(root, 'samples', 'hello');
    const { hello } = (await import(pathToFileURL(join(sample, 'dist', 'src', 'index.js')).href)) as { hello: PJob<{ name?: string }> };
    const config = await loadConfig({ dir: sample, file: 'hello.properties', profile: 'dev' });
    const cache = new Map<string, unknown>();
    const first = await runLocal(hello, { params: { name: 'JobCenter' }, config, cache, jobName: 'hello-every-10s' });
    assert.equal(first.result, 'Hello from dev, JobCenter! (run 1)');
    assert.match(first.logs[0].message, /job hello-every-10s, attempt 1/);
    const second = await runLocal(hello, { config: await loadConfig({ dir: sample, file: 'hello.properties' }), cache });
    assert.equal(second.result, 'Hello, World! (run 2)');
  });

  test('the built slow job finishes after params.ms and stops as soon as it is aborted', async () => {
    const { slow } = (await import(pathToFileURL(join(root, 'samples', 'hello', 'dist', 'src', 'index.js')).href)) as {
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
