/**
 * `jobcenter-sdk pack` finds production dependencies the way Node does, past the project folder: a project inside an
 * npm workspace has its packages hoisted to the workspace root, and they still land in the bundle's own node_modules.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import unzipper from 'unzipper';
import { cli, zipModes } from './cli-helpers.js';

let work = '';
let app = '';
const env: NodeJS.ProcessEnv = {};

async function addPackage(at: string, pkg: Record<string, unknown>, code = 'module.exports = 1;\n'): Promise<void> {
  await mkdir(at, { recursive: true });
  await writeFile(join(at, 'package.json'), JSON.stringify(pkg));
  await writeFile(join(at, 'index.js'), code);
}

/** Laid out as `npm install` at a workspace root does: the app's dependencies hoisted, a conflicting one nested. */
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'jc-sdk-deps-'));
  env.XDG_CONFIG_HOME = join(work, 'xdg');
  const root = join(work, 'workspace');
  app = join(root, 'apps', 'app');
  await addPackage(join(root, 'node_modules', 'hoisted'), { name: 'hoisted', version: '1.0.0', dependencies: { inner: '2.0.0', shared: '1.0.0' } },
    "const inner = require('inner'); const shared = require('shared'); module.exports = () => `hoisted+${inner}+${shared}`;\n");
  await addPackage(join(root, 'node_modules', 'hoisted', 'node_modules', 'inner'), { name: 'inner', version: '2.0.0' }, "module.exports = 'inner2';\n");
  await addPackage(join(root, 'node_modules', 'inner'), { name: 'inner', version: '1.0.0' }, "module.exports = 'inner1';\n");
  await addPackage(join(root, 'node_modules', 'shared'), { name: 'shared', version: '1.0.0' }, "module.exports = 'shared';\n");
  await addPackage(join(root, 'node_modules', '@acme', 'fmt'), { name: '@acme/fmt', version: '1.0.0' });
  await addPackage(join(app, 'node_modules', 'local'), { name: 'local', version: '1.0.0' }, "module.exports = 'local';\n");
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'workspace', private: true, workspaces: ['apps/app'] }));
  await mkdir(join(app, 'dist'), { recursive: true });
  await writeFile(join(app, 'jobcenter.json'), JSON.stringify({ name: 'app', version: '1.0.0', kind: 'thread', main: 'dist/index.js' }));
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', dependencies: { hoisted: '1.0.0', local: '1.0.0', '@acme/fmt': '1.0.0' } }));
  await writeFile(join(app, 'dist', 'index.js'), "import hoisted from 'hoisted';\nimport local from 'local';\nexport const job = { execute: () => `${hoisted()}+${local}` };\n");
});
after(() => rm(work, { recursive: true, force: true }));

describe('dependencies hoisted above the project', () => {
  test('are found in a parent node_modules and packed into the bundle\'s own node_modules, nested ones kept nested', async () => {
    const pack = await cli(['pack', '--no-build', '--out', join(work, 'app.zip')], app, env);
    assert.equal(pack.code, 0, pack.stderr);
    const names = [...(await zipModes(join(work, 'app.zip'))).keys()].filter((n) => !n.startsWith('node_modules/@jobcenter/'));
    assert.deepEqual(names.filter((n) => n.startsWith('node_modules/')).sort(), [
      'node_modules/@acme/fmt/index.js',
      'node_modules/@acme/fmt/package.json',
      'node_modules/hoisted/index.js',
      'node_modules/hoisted/node_modules/inner/index.js',
      'node_modules/hoisted/node_modules/inner/package.json',
      'node_modules/hoisted/package.json',
      'node_modules/local/index.js',
      'node_modules/local/package.json',
      'node_modules/shared/index.js',
      'node_modules/shared/package.json',
    ]);
    assert.ok(names.every((n) => !n.includes('..')), names.join(', '));
  });

  test('the packed code loads them from the extracted bundle, with the nested version where npm nested it', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'jc-sdk-deps-extracted-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const directory = await unzipper.Open.file(join(work, 'app.zip'));
    for (const file of directory.files) {
      await mkdir(dirname(join(dir, file.path)), { recursive: true });
      await writeFile(join(dir, file.path), await file.buffer());
    }
    const { job } = (await import(pathToFileURL(join(dir, 'dist', 'index.js')).href)) as { job: { execute(): string } };
    assert.equal(job.execute(), 'hoisted+inner2+shared+local');
  });

  test('a project-level package that shadows a hoisted one of the same name stops the pack with a message', async () => {
    await addPackage(join(app, 'node_modules', 'shared'), { name: 'shared', version: '2.0.0' });
    const pkg = { name: 'app', version: '1.0.0', type: 'module', dependencies: { hoisted: '1.0.0', shared: '2.0.0' } };
    await writeFile(join(app, 'package.json'), JSON.stringify(pkg));
    const pack = await cli(['pack', '--no-build', '--out', join(work, 'conflict.zip')], app, env);
    assert.equal(pack.code, 1);
    assert.match(pack.stderr, /would both be packed as node_modules\/shared/);
  });
});
