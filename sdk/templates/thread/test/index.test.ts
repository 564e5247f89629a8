import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestContext, loadConfig, runLocal } from '@jobcenter/sdk';
import { hello, type HelloParams } from '../src/index.js';

test('hello greets with the dev profile and counts its runs in the cache', async () => {
  const config = await loadConfig({ dir: '.', file: 'app.properties', profile: 'dev' });
  const cache = new Map<string, unknown>();
  const first = await runLocal(hello, { params: { name: 'Ada' }, config, cache });
  assert.equal(first.result, 'Hello from dev, Ada! (run 1)');
  assert.equal(first.logs[0]?.message, 'Hello from dev, Ada! (run 1)');
  const second = await runLocal(hello, { params: { name: 'Ada' }, config, cache });
  assert.equal(second.result, 'Hello from dev, Ada! (run 2)');
});

test('hello falls back to the config when it has no params', async () => {
  const config = await loadConfig({ dir: '.', file: 'app.properties' });
  const { ctx, logs } = createTestContext<HelloParams | null>({ config });
  assert.equal(await hello.execute(ctx), 'Hello, World! (run 1)');
  assert.equal(logs.length, 1);
});
