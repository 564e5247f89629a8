import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import path from 'node:path';
import { createHarness } from './harness.js';
import type { Harness } from './harness.js';
import { rawZip, yazlZip } from './zip-builder.js';
import type { RawEntry } from './zip-builder.js';

const MANIFEST = JSON.stringify({ name: 'ok', version: '1', kind: 'thread', main: 'index.mjs' });
const GOOD: RawEntry[] = [
  { name: 'jobcenter.json', data: MANIFEST },
  { name: 'index.mjs', data: 'export const a = { execute() { return "a"; } };' },
];

describe('bundle zip extraction', () => {
  let h: Harness;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    h = await createHarness();
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await h.cleanup();
  });

  test('an entry that climbs out with ../ is refused and named', async () => {
    const zip = await rawZip(h.input('up.zip'), [...GOOD, { name: '../evil.txt', data: 'x' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"\.\.\/evil\.txt" has a '\.\.' path segment/);
    assert.equal(existsSync(path.join(h.config.dataDir, 'evil.txt')), false);
  });

  test('backslash separators are normalised before the .. check', async () => {
    const zip = await rawZip(h.input('back.zip'), [...GOOD, { name: '..\\evil.txt', data: 'x' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /evil\.txt.*'\.\.' path segment/);
  });

  test('a .. segment in the middle of a name is refused', async () => {
    const zip = await rawZip(h.input('mid.zip'), [...GOOD, { name: 'sub/../../evil.txt', data: 'x' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"sub\/\.\.\/\.\.\/evil\.txt" has a '\.\.' path segment/);
  });

  test('an absolute entry name is refused and nothing is written there', async () => {
    const target = path.join(h.root, 'absolute-evil.txt');
    const zip = await rawZip(h.input('abs.zip'), [...GOOD, { name: target, data: 'x' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /absolute-evil\.txt" has an absolute path/);
    assert.equal(existsSync(target), false);
  });

  test('a drive letter is refused', async () => {
    const zip = await rawZip(h.input('drive.zip'), [...GOOD, { name: 'C:\\evil.txt', data: 'x' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"C:\\\\evil\.txt" starts with a drive letter/);
  });

  test('a symbolic link entry is refused', async () => {
    const zip = await rawZip(h.input('link.zip'), [...GOOD, { name: 'link', data: '/etc/passwd', unixMode: 0o120777 }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"link" is a symbolic link/);
  });

  test('a device entry is refused', async () => {
    const zip = await rawZip(h.input('dev.zip'), [...GOOD, { name: 'tty', data: '', unixMode: 0o020644 }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"tty" is a device, FIFO or socket/);
  });

  test('a NUL character in a name is refused', async () => {
    const zip = await rawZip(h.input('nul.zip'), [...GOOD, { name: Buffer.from('a\0b.txt', 'latin1'), data: 'x' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /NUL character/);
  });

  test('an empty name is refused', async () => {
    const zip = await rawZip(h.input('empty-name.zip'), [...GOOD, { name: '', data: 'x' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /entry #3 has an empty name/);
  });

  test('a name given twice is refused', async () => {
    const zip = await rawZip(h.input('dup.zip'), [...GOOD, { name: 'index.mjs', data: 'export {}' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"index\.mjs" more than once/);
  });

  test('a file that another entry needs as a folder is refused without crashing', async () => {
    const zip = await rawZip(h.input('conflict.zip'), [...GOOD, { name: 'a', data: 'x' }, { name: 'a/b', data: 'y' }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"a" is a file but entry "a\/b" needs it to be a folder/);
  });

  test('a name that is both a file and a folder entry is refused', async () => {
    const zip = await rawZip(h.input('conflict2.zip'), [...GOOD, { name: 'a', data: 'x' }, { name: 'a/', unixMode: 0o040755 }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"a" both as a file and as a folder/);
  });

  test('an entry that inflates past its declared size is stopped while streaming', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024);
    const zip = await rawZip(h.input('liar.zip'), [...GOOD, { name: 'bomb.bin', data: big, method: 8, declaredSize: 100 }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"bomb\.bin" unpacks to more than its declared 100 bytes/);
  });

  test('an entry that declares more than the unpacked limit is refused before extraction', async () => {
    const zip = await rawZip(h.input('bomb.zip'), [...GOOD, { name: 'bomb.bin', data: Buffer.alloc(5 * 1024 * 1024), method: 8 }]);
    await h.expectRefused(zip, 'TOO_LARGE', /"bomb\.bin" declares 5242880 bytes, more than the limit of 1048576/);
  });

  test('entries that together pass the unpacked limit are refused', async () => {
    const part = Buffer.alloc(400 * 1024);
    const entries: RawEntry[] = ['p1', 'p2', 'p3'].map((name) => ({ name, data: part, method: 8 }));
    const zip = await rawZip(h.input('total.zip'), [...GOOD, ...entries]);
    await h.expectRefused(zip, 'TOO_LARGE', /more than the limit of 1048576 bytes \(reached at entry "p3"\)/);
  });

  test('a zip with more entries than allowed is refused', async () => {
    const many: RawEntry[] = Array.from({ length: 49 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }));
    const zip = await rawZip(h.input('many.zip'), [...GOOD, ...many]);
    await h.expectRefused(zip, 'TOO_LARGE', /51 entries, more than the limit of 50/);
  });

  test('an entry whose checksum does not match is refused as corrupt', async () => {
    const zip = await rawZip(h.input('crc.zip'), [...GOOD, { name: 'data.txt', data: 'hello', crc: 12345 }]);
    await h.expectRefused(zip, 'UNPROCESSABLE', /"data\.txt" is corrupt \(checksum mismatch\)/);
  });

  test('a file that is not a zip is refused with a clear message', async () => {
    const file = h.input('not-a-zip.zip');
    await writeFile(file, Buffer.alloc(3000, 'garbage '));
    await h.expectRefused(file, 'UNPROCESSABLE', /bundle is not a readable zip file/);
  });

  test('a zero-byte upload is refused as not a zip', async () => {
    const file = h.input('zero.zip');
    await writeFile(file, '');
    await h.expectRefused(file, 'UNPROCESSABLE', /not a readable zip file/);
  });

  test('a truncated zip is refused', async () => {
    const whole = await readFile(await rawZip(h.input('whole.zip'), GOOD));
    const file = h.input('truncated.zip');
    await writeFile(file, whole.subarray(0, whole.length - 30));
    await h.expectRefused(file, 'UNPROCESSABLE', /not a readable zip file/);
  });

  test('an empty zip is refused for lacking jobcenter.json', async () => {
    const zip = await yazlZip(h.input('empty.zip'), {});
    await h.expectRefused(zip, 'UNPROCESSABLE', /no jobcenter\.json at its root/);
  });

  test('a zip larger than the upload limit is refused as too large', async () => {
    const small = await createHarness({ maxBundleBytes: 1000 });
    try {
      const zip = await rawZip(small.input('large.zip'), [...GOOD, { name: 'pad.bin', data: Buffer.alloc(2000, 1) }]);
      await small.expectRefused(zip, 'TOO_LARGE', /larger than the limit of 1000 bytes/);
    } finally {
      await small.cleanup();
    }
  });

  test('a file named ..foo is legal and extracted', async () => {
    const zip = await rawZip(h.input('dotdot-name.zip'), [...GOOD, { name: '..foo', data: 'fine' }, { name: 'x/..bar', data: 'ok' }]);
    const result = await h.intake.intake(zip, { projectId: 7 });
    assert.equal(await readFile(path.join(result.dir, '..foo'), 'utf8'), 'fine');
    assert.equal(await readFile(path.join(result.dir, 'x', '..bar'), 'utf8'), 'ok');
  });

  test('after all the refusals the host is fine: no unhandled errors and a good bundle is taken in', async () => {
    const zip = await rawZip(h.input('good.zip'), GOOD);
    const result = await h.intake.intake(zip, { projectId: 7 });
    assert.deepEqual(result.exports, [{ name: 'a', type: 'job' }]);
    assert.deepEqual(unhandled, []);
  });
});
