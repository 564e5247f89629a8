/**
 * Validation of a resolver's output: every bad spec is refused with its index and field, and a good one gets the
 * host's defaults.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobRecord } from '../../host/domain/index.js';
import { compileConfig } from '../../host/config/index.js';
import { changedFields, validateSpecs } from '../../host/services/resolver-specs.js';

const config = compileConfig({ dataDir: '/tmp/jc-resolver-specs-unused' });
const ok = { name: 'a', entry: 'work', schedule: { type: 'MANUAL' } };

function refused(specs: unknown[], message: RegExp): void {
  assert.throws(() => validateSpecs(specs, 'thread', config), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'UNPROCESSABLE');
    assert.match(err.message, message);
    return true;
  });
}

test('a good spec takes the resolver kind and the host defaults, and its identifierCode as a string', () => {
  const [spec] = validateSpecs([{ ...ok, identifierCode: 7, concurrency: 'SKIP', params: { x: 1 } }], 'thread', config);
  assert.equal(spec!.kind, 'thread');
  assert.equal(spec!.identifierCode, '7');
  assert.equal(spec!.concurrency, 'SKIP');
  assert.deepEqual(spec!.params, { x: 1 });
  assert.equal(spec!.configFile, null);
  assert.equal(spec!.maxQueue, config.defaultMaxQueue);
});

test('an exec spec needs an argv array as its entry', () => {
  const [spec] = validateSpecs([{ ...ok, kind: 'exec', entry: ['sh', '-c', 'true'] }], 'thread', config);
  assert.deepEqual(spec!.entry, ['sh', '-c', 'true']);
  refused([{ ...ok, kind: 'exec' }], /^invalid sub-job spec: specs\[0\]\.entry must be a non-empty array/);
});

test('each bad field is named with the index of its spec', () => {
  refused([ok, { ...ok, name: '' }], /specs\[1\]\.name must be/);
  refused([ok, { ...ok, name: 'b', schedule: { type: 'INTERVAL', everyMs: 10 } }], /specs\[1\]\.schedule\.everyMs: must be at least/);
  refused([{ ...ok, schedule: undefined }], /specs\[0\]\.schedule: expected an object/);
  refused([{ ...ok, concurrency: 'MAYBE' }], /specs\[0\]\.concurrency must be one of/);
  refused([{ ...ok, kind: 'jvm' }], /specs\[0\]\.kind must be one of/);
  refused([{ ...ok, entry: 'not an identifier' }], /specs\[0\]\.entry must be the name/);
  refused([{ ...ok, identifierCode: true }], /specs\[0\]\.identifierCode: must be a string/);
  refused([{ ...ok, params: { big: 'x'.repeat(70_000) } }], /specs\[0\]\.params must be at most/);
  refused([{ ...ok, colour: 'red' }], /specs\[0\]\.colour: not a field of a job spec/);
  refused([ok, 'a'], /specs\[1\]: a job spec must be an object/);
});

test('two specs with the same name are refused', () => {
  refused([ok, { ...ok, entry: 'other' }], /specs\[1\]\.name: "a" is also the name of specs\[0\]/);
});

test('changes are found in the compared fields whatever the order of JSON keys', () => {
  const [spec] = validateSpecs([{ ...ok, params: { a: 1, b: { c: 2, d: 3 } }, identifierCode: 'x' }], 'thread', config);
  const job = { ...spec!, params: { b: { d: 3, c: 2 }, a: 1 } } as unknown as JobRecord;
  assert.deepEqual(changedFields(job, spec!), []);
  assert.deepEqual(changedFields({ ...job, identifierCode: 'y', concurrency: 'WAIT' }, spec!), ['identifierCode', 'concurrency']);
});
