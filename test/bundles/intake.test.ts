import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BundleExport } from '../../host/domain/index.js';
import { createHarness, fixturesDir } from './harness.js';
import type { Harness } from './harness.js';
import { readFixture, yazlZip } from './zip-builder.js';
import type { FileMap } from './zip-builder.js';

const byName = (a: BundleExport, b: BundleExport) => a.name.localeCompare(b.name);

async function fixtureZip(h: Harness, name: string, extra: FileMap = {}): Promise<string> {
  const { files, modes } = await readFixture(path.join(fixturesDir(), name));
  return yazlZip(h.input(`${name}.zip`), { ...files, ...extra }, modes);
}

function threadBundle(main: string, source: string, manifest: Record<string, unknown> = {}): FileMap {
  return {
    'jobcenter.json': JSON.stringify({ name: 'b', version: '1', kind: 'thread', main, ...manifest }),
    [main]: source,
  };
}

describe('bundle intake of good bundles', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness();
  });
  after(() => h.cleanup());

  test('a thread bundle lists its two jobs and its resolver and lands in a fresh project folder', async () => {
    const zip = await fixtureZip(h, 'thread-basic');
    const written: string[] = [];
    const realWrite = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      written.push(String(chunk));
      return realWrite(chunk, ...rest);
    }) as typeof process.stdout.write;
    let result;
    try {
      result = await h.intake.intake(zip, { projectId: 7 });
    } finally {
      process.stdout.write = realWrite;
    }
    assert.deepEqual([...result.exports].sort(byName), [
      { name: 'cities', type: 'resolver' },
      { name: 'hello', type: 'job' },
      { name: 'report', type: 'job' },
    ]);
    assert.deepEqual(result.manifest, { name: 'thread-basic', version: '1.0.0', kind: 'thread', main: 'dist/index.mjs' });
    const bytes = await readFile(zip);
    assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(result.size, bytes.length);
    assert.equal(path.dirname(result.dir), path.join(h.config.bundlesDir, '7'));
    assert.match(path.basename(result.dir), new RegExp(`^${result.sha256}-[0-9a-f]+$`));
    assert.ok(existsSync(path.join(h.config.bundlesDir, 'blobs', `${result.sha256}.zip`)));
    assert.equal(await readFile(path.join(result.dir, 'config', 'app.properties'), 'utf8'), 'greeting=hi\n');
    assert.ok(!written.some((line) => line.includes('must not reach the host stdout')), 'bundle console output leaked');
  });

  test('the same zip uploaded twice at once gets the same hash and two separate folders', async () => {
    const zip = await fixtureZip(h, 'thread-basic');
    const [first, second] = await Promise.all([
      h.intake.intake(zip, { projectId: 8 }),
      h.intake.intake(zip, { projectId: 8 }),
    ]);
    assert.equal(first.sha256, second.sha256);
    assert.notEqual(first.dir, second.dir);
    assert.ok(existsSync(first.dir) && existsSync(second.dir));
  });

  test('class-based jobs and resolvers in a CommonJS main are found through module.exports', async () => {
    const result = await h.intake.intake(await fixtureZip(h, 'class-jobs'), { projectId: 7 });
    assert.deepEqual([...result.exports].sort(byName), [
      { name: 'NightlyJob', type: 'job' },
      { name: 'TenantResolver', type: 'resolver' },
    ]);
    assert.equal(result.manifest.description, 'class-based jobs, CommonJS');
  });

  test('a bundle whose main imports a package from its own node_modules loads', async () => {
    const { files } = await readFixture(path.join(fixturesDir(), 'tiny-greet'));
    const deps = Object.fromEntries(Object.entries(files).map(([name, data]) => [`node_modules/tiny-greet/${name}`, data]));
    const result = await h.intake.intake(await fixtureZip(h, 'with-deps', deps), { projectId: 7 });
    assert.deepEqual(result.exports, [{ name: 'greeter', type: 'job' }]);
    assert.ok(existsSync(path.join(result.dir, 'node_modules', 'tiny-greet', 'index.js')));
  });

  test('an exec bundle needs no main, lists no exports and keeps the executable bit', async () => {
    const result = await h.intake.intake(await fixtureZip(h, 'exec-script'), { projectId: 7 });
    assert.deepEqual(result.exports, []);
    assert.equal(result.manifest.kind, 'exec');
    assert.equal((await stat(path.join(result.dir, 'bin', 'run.sh'))).mode & 0o100, 0o100);
  });

  test('a module bundle lists the beans of its booted context that are jobs', async () => {
    const result = await h.intake.intake(await fixtureZip(h, 'module-jobs'), { projectId: 7 });
    assert.deepEqual([...result.exports].sort(byName), [
      { name: 'cleanup', type: 'job' },
      { name: 'nightly', type: 'job' },
    ]);
  });

  test('an isolate bundle is introspected in a throw-away isolate, listing its jobs and resolvers', async () => {
    const files = threadBundle('job.js', 'exports.a = { execute() {} }; exports.B = class { resolve() { return []; } }; exports.c = 1;', { kind: 'isolate' });
    const result = await h.intake.intake(await yazlZip(h.input('isolate.zip'), files), { projectId: 7 });
    assert.deepEqual([...result.exports].sort(byName), [
      { name: 'a', type: 'job' },
      { name: 'B', type: 'resolver' },
    ]);
    assert.equal(result.manifest.kind, 'isolate');
  });

  test('a default export object holding jobs is read property by property', async () => {
    const source = 'export default { sync: { execute() {} }, plan: { resolve() { return []; } }, note: 1 };';
    const result = await h.intake.intake(await yazlZip(h.input('default.zip'), threadBundle('m.mjs', source)), { projectId: 7 });
    assert.deepEqual([...result.exports].sort(byName), [
      { name: 'plan', type: 'resolver' },
      { name: 'sync', type: 'job' },
    ]);
  });

  test('remove deletes an extracted bundle folder but refuses paths outside bundlesDir', async () => {
    const result = await h.intake.intake(await fixtureZip(h, 'class-jobs'), { projectId: 9 });
    await h.intake.remove(result.dir);
    assert.equal(existsSync(result.dir), false);
    await assert.rejects(h.intake.remove(h.root), /not a folder under/);
    await assert.rejects(h.intake.remove(h.config.bundlesDir), /not a folder under/);
  });
});

describe('bundle intake of bad manifests', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness();
  });
  after(() => h.cleanup());

  const refuse = async (name: string, files: FileMap, message: RegExp) =>
    h.expectRefused(await yazlZip(h.input(`${name}.zip`), files), 'UNPROCESSABLE', message);
  const manifest = (m: unknown): FileMap => ({ 'jobcenter.json': JSON.stringify(m), 'index.mjs': 'export const a = { execute() {} };' });

  test('a bundle without jobcenter.json is refused', async () => {
    await refuse('no-manifest', { 'index.mjs': 'export {}' }, /no jobcenter\.json at its root/);
  });

  test('a jobcenter.json that is not JSON is refused with the parse error', async () => {
    await refuse('bad-json', { 'jobcenter.json': '{ "name": ', 'index.mjs': '' }, /jobcenter\.json is not valid JSON: .+/);
  });

  test('a jobcenter.json that is not an object is refused', async () => {
    await refuse('array', { 'jobcenter.json': '[1]' }, /must hold a JSON object/);
  });

  test('a name of the wrong type or with bad characters is refused naming the field', async () => {
    await refuse('name-type', manifest({ name: 5, version: '1', kind: 'thread', main: 'index.mjs' }), /field "name" must be a string/);
    await refuse('name-chars', manifest({ name: 'a b/c', version: '1', kind: 'thread', main: 'index.mjs' }), /field "name" must be 1-100 characters.*"a b\/c"/);
    await refuse('name-long', manifest({ name: 'x'.repeat(101), version: '1', kind: 'thread', main: 'index.mjs' }), /field "name"/);
  });

  test('a missing version or a wrong kind is refused naming the field', async () => {
    await refuse('version', manifest({ name: 'a', kind: 'thread', main: 'index.mjs' }), /field "version" must be a non-empty string/);
    await refuse('version-num', manifest({ name: 'a', version: 1, kind: 'thread', main: 'index.mjs' }), /field "version"/);
    await refuse('kind', manifest({ name: 'a', version: '1', kind: 'java', main: 'index.mjs' }), /field "kind" must be one of thread, module, isolate, exec \(got "java"\)/);
  });

  test('main is required for thread bundles and must be a string', async () => {
    await refuse('no-main', manifest({ name: 'a', version: '1', kind: 'thread' }), /field "main" is required for kind thread/);
    await refuse('main-type', manifest({ name: 'a', version: '1', kind: 'module', main: ['x'] }), /field "main" must be a non-empty string/);
  });

  test('a main outside the bundle, missing, or a folder is refused', async () => {
    await refuse('main-out', manifest({ name: 'a', version: '1', kind: 'thread', main: '../../outside.js' }), /field "main" points outside the bundle/);
    await refuse('main-abs', manifest({ name: 'a', version: '1', kind: 'thread', main: '/etc/hostname' }), /field "main" points outside the bundle/);
    await refuse('main-missing', manifest({ name: 'a', version: '1', kind: 'thread', main: 'nope.js' }), /field "main" names a file that is not in the bundle \(got "nope\.js"\)/);
    await refuse('main-dir', { ...manifest({ name: 'a', version: '1', kind: 'thread', main: 'lib' }), 'lib/x.js': '' }, /field "main" must name a file, not a folder/);
  });
});

describe('bundle intake of main modules that misbehave', () => {
  let h: Harness;
  before(async () => {
    // Long enough for a worker to boot and a main to reach its 128 MB on a loaded machine (at load 15, 3 s was not).
    h = await createHarness({ introspectTimeoutMs: 6_000 });
  });
  after(() => h.cleanup());

  const refuse = async (name: string, source: string, message: RegExp) =>
    h.expectRefused(await yazlZip(h.input(`${name}.zip`), threadBundle('index.mjs', source)), 'UNPROCESSABLE', message);

  test('a main that throws at import is refused with the error', async () => {
    await refuse('throws', 'throw new Error("boom at load");', /main module threw while loading: Error: boom at load/);
  });

  test('a main with a syntax error is refused', async () => {
    await refuse('syntax', 'export const = ;', /main module threw while loading: SyntaxError/);
  });

  test('a main that hangs at top level is stopped at the time limit', async () => {
    await refuse('hang', 'while (true) {}', /introspection timed out after 6000 ms/);
  });

  test('a main that calls process.exit while loading is refused', async () => {
    await refuse('exit', 'process.exit(3);', /process\.exit\(3\)/);
  });

  test('a main that allocates until it runs out of memory is refused', async () => {
    await refuse('oom', 'const keep = []; while (true) keep.push(new Array(100000).fill({ x: Math.random() }));', /ran out of memory while loading \(limit 128 MB\)/);
  });

  test('a main that exports nothing runnable is refused', async () => {
    await refuse('none', 'export const x = 1; export function f() {}', /exports no jobs or resolvers/);
  });

  test('a main that leaves a timer running does not keep the worker alive', async () => {
    const files = threadBundle('index.mjs', 'setInterval(() => {}, 1000); export const j = { execute() {} };');
    const result = await h.intake.intake(await yazlZip(h.input('timer.zip'), files), { projectId: 7 });
    assert.deepEqual(result.exports, [{ name: 'j', type: 'job' }]);
  });

  test('after all those failures the host still takes in a good bundle', async () => {
    const files = threadBundle('index.mjs', 'export class Job { execute() { return "ok"; } }');
    const result = await h.intake.intake(await yazlZip(h.input('good.zip'), files), { projectId: 7 });
    assert.deepEqual(result.exports, [{ name: 'Job', type: 'job' }]);
  });
});
