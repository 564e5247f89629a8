/**
 * The module, isolate and exec templates (init, install, test, local run, pack), production dependencies in a
 * thread bundle, and the CLI's answers to bad input.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, exec, npm, SDK_DIR, zipModes, zipText } from './cli-helpers.js';

let work = '';
const env: NodeJS.ProcessEnv = {};

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'jc-sdk-kinds-'));
  env.XDG_CONFIG_HOME = join(work, 'xdg');
  env.JOBCENTER_TOKEN = '';
  env.JOBCENTER_PASSWORD = '';
});
after(() => rm(work, { recursive: true, force: true }));

/** init + npm install + npm test for one kind; returns the project folder. */
async function scaffold(kind: string, name: string): Promise<string> {
  const init = await cli(['init', name, '--kind', kind, '--sdk-path', SDK_DIR, '--no-typecheck'], work, env);
  assert.equal(init.code, 0, init.stderr);
  const dir = join(work, name);
  const install = await npm(['install'], dir);
  assert.equal(install.code, 0, install.stderr);
  const tested = await exec('npm', ['test'], { cwd: dir, timeoutMs: 60_000 });
  assert.equal(tested.code, 0, tested.stdout + tested.stderr);
  assert.doesNotMatch(tested.stdout, /# fail [1-9]/);
  return dir;
}

describe('the module template', () => {
  test('builds, tests green, runs a job bean locally with lifecycle logs, and packs', async () => {
    const dir = await scaffold('module', 'orders');
    const run = await cli(['run', 'countOrders', '--profile', 'dev', '--params', '{"minAmount":20}'], dir, env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\[module\] repository: opening dev with 3 orders\n.*\[module\] module started\n.*2 orders in dev\n.*\[module\] module stopping\n/);
    assert.match(run.stdout, /result: 2 orders\n$/);
    const pack = await cli(['pack'], dir, env);
    assert.equal(pack.code, 0, pack.stderr);
    const names = [...(await zipModes(join(dir, 'bundles', 'orders-0.1.0.zip'))).keys()];
    for (const name of ['jobcenter.json', 'package.json', 'dist/src/index.js', 'config/application.properties', 'node_modules/@jobcenter/sdk/dist/module.js']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
  });
});

describe('the isolate template', () => {
  test('builds, tests green, runs without Node APIs, and packs ONE CommonJS file', async () => {
    const dir = await scaffold('isolate', 'words');
    const run = await cli(['run', 'words', '--params', '{"text":"a b a"}'], dir, env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /result: a:2 b:1\n$/);
    const pack = await cli(['pack'], dir, env);
    assert.equal(pack.code, 0, pack.stderr);
    const zip = join(dir, 'bundles', 'words-0.1.0.zip');
    assert.deepEqual([...(await zipModes(zip)).keys()].sort(), ['config/app-dev.properties', 'config/app.properties', 'index.js', 'jobcenter.json']);
    assert.equal(JSON.parse(await zipText(zip, 'jobcenter.json')).main, 'index.js');
    const script = await zipText(zip, 'index.js');
    assert.match(script, /module\.exports = __toCommonJS/);
    assert.doesNotMatch(script, /\brequire\(|\bimport\s/);
  });

  test('a job that reaches for Node APIs fails its local run', async () => {
    const dir = join(work, 'words');
    await writeFile(join(dir, 'src', 'index.ts'), 'export const env = { execute: () => String((globalThis as any).process.env.HOME) };\n');
    const run = await cli(['run', 'env'], dir, env);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /FAILED .*Cannot read properties of undefined \(reading 'env'\)/);
  });
});

describe('the exec template', () => {
  test('tests green, runs run.sh with params and config, and packs it executable', async () => {
    const dir = await scaffold('exec', 'script');
    const run = await cli(['run', './run.sh', '--params', '{"name":"Ada"}', '--config-file', 'app.properties', '--profile', 'dev'], dir, env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Hello from dev, Ada!\nSUCCEEDED/);
    const pack = await cli(['pack'], dir, env);
    assert.equal(pack.code, 0, pack.stderr);
    const modes = await zipModes(join(dir, 'bundles', 'script-0.1.0.zip'));
    assert.deepEqual([...modes.keys()].sort(), ['config/app-dev.properties', 'config/app.properties', 'jobcenter.json', 'package.json', 'run.sh']);
    assert.equal(modes.get('run.sh'), 0o755);
    assert.equal(modes.get('jobcenter.json'), 0o644);
  });
});

describe('a thread bundle with production dependencies', () => {
  test('carries each dependency and the dependencies of those, but not dev dependencies', async () => {
    const dir = await scaffold('thread', 'with-deps');
    const addPackage = async (at: string, pkg: Record<string, unknown>): Promise<void> => {
      await mkdir(at, { recursive: true });
      await writeFile(join(at, 'package.json'), JSON.stringify(pkg));
      await writeFile(join(at, 'index.js'), 'module.exports = 1;\n');
    };
    // Laid out as npm would: a hoisted dependency, and a nested one where versions conflict.
    await addPackage(join(dir, 'node_modules', 'pad'), { name: 'pad', version: '1.0.0', dependencies: { repeat: '2.0.0' } });
    await addPackage(join(dir, 'node_modules', 'pad', 'node_modules', 'repeat'), { name: 'repeat', version: '2.0.0' });
    await addPackage(join(dir, 'node_modules', '@acme', 'fmt'), { name: '@acme/fmt', version: '1.0.0', dependencies: { pad: '1.0.0' } });
    await addPackage(join(dir, 'node_modules', 'devonly'), { name: 'devonly', version: '1.0.0' });
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    pkg.dependencies = { '@acme/fmt': '1.0.0' };
    pkg.devDependencies.devonly = '1.0.0';
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
    const pack = await cli(['pack'], dir, env);
    assert.equal(pack.code, 0, pack.stderr);
    const names = [...(await zipModes(join(dir, 'bundles', 'with-deps-0.1.0.zip'))).keys()].filter((n) => n.startsWith('node_modules/') && !n.startsWith('node_modules/@jobcenter/'));
    assert.deepEqual(names.sort(), [
      'node_modules/@acme/fmt/index.js',
      'node_modules/@acme/fmt/package.json',
      'node_modules/pad/index.js',
      'node_modules/pad/node_modules/repeat/index.js',
      'node_modules/pad/node_modules/repeat/package.json',
      'node_modules/pad/package.json',
    ]);
  });

  test('a dependency that is not installed stops the pack with a message', async () => {
    const dir = join(work, 'with-deps');
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    pkg.dependencies.missing = '1.0.0';
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
    const pack = await cli(['pack', '--no-build'], dir, env);
    assert.equal(pack.code, 1);
    assert.match(pack.stderr, /dependency "missing" \(of package\.json\) is not installed .*: run npm install/);
  });
});

describe('bad input', () => {
  test('pack in a folder without jobcenter.json says so and exits 1', async () => {
    const dir = join(work, 'empty');
    await mkdir(dir, { recursive: true });
    const res = await cli(['pack'], dir, env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^jobcenter-sdk pack: no jobcenter\.json in .*empty \(create a project with: jobcenter-sdk init <dir>\)\n$/);
  });

  test('an unknown kind is refused by init and by pack', async () => {
    const init = await cli(['init', 'x', '--kind', 'java'], work, env);
    assert.equal(init.code, 1);
    assert.match(init.stderr, /unknown kind "java": use one of thread, module, isolate, exec/);
    const dir = join(work, 'badkind');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'jobcenter.json'), JSON.stringify({ name: 'b', version: '1', kind: 'java', main: 'x.js' }));
    const pack = await cli(['pack'], dir, env);
    assert.equal(pack.code, 1);
    assert.match(pack.stderr, /"kind" must be one of thread, module, isolate, exec, got "java"/);
  });

  test('a thread project whose main is missing after the build is refused', async () => {
    const dir = join(work, 'nomain');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'jobcenter.json'), JSON.stringify({ name: 'nomain', version: '1', kind: 'thread', main: 'dist/index.js' }));
    const pack = await cli(['pack'], dir, env);
    assert.equal(pack.code, 1);
    assert.match(pack.stderr, /main "dist\/index\.js" does not exist/);
  });

  test('init refuses a folder that is not empty, and unknown flags name the help to read', async () => {
    const res = await cli(['init', 'with-deps'], work, env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /is not empty .*use --force/);
    const flagged = await cli(['pack', '--bogus'], work, env);
    assert.equal(flagged.code, 1);
    assert.match(flagged.stderr, /Unknown option '--bogus'.*\n\(see: jobcenter-sdk pack --help\)/s);
  });

  test('upload without a login names the command to run', async () => {
    const res = await cli(['upload', '--host', 'http://127.0.0.1:9', '--project', 'x', join(work, 'words', 'bundles', 'words-0.1.0.zip')], work, env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /not logged in to http:\/\/127\.0\.0\.1:9: run jobcenter-sdk login --host/);
  });

  test('every command has --help', async () => {
    for (const command of ['init', 'build', 'run', 'pack', 'login', 'upload']) {
      const res = await cli([command, '--help'], work, env);
      assert.equal(res.code, 0, command);
      assert.match(res.stdout, new RegExp(`^Usage: jobcenter-sdk ${command}`), command);
    }
  });
});
