import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnrecoverableJobError } from '@jobcenter/sdk';
import { serializeError } from '../../host/errors/index.js';

test('an UnrecoverableJobError crosses a boundary with the code the host recognises', () => {
  const err = new UnrecoverableJobError('params.orderId is missing', { cause: new Error('inner') });
  assert.equal(err.name, 'UnrecoverableJobError');
  assert.equal(err.code, 'UNRECOVERABLE');
  assert.ok(err instanceof Error);
  const crossed = serializeError(structuredClone(err));
  assert.equal(crossed.message, 'params.orderId is missing');
  assert.equal(serializeError(err).code, 'UNRECOVERABLE');
});
