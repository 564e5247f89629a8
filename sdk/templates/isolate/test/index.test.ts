import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, runLocal } from '@jobcenter/sdk';
import { words } from '../src/index.js';

test('words counts the words of its params and keeps a total in the cache', async () => {
  const cache = new Map<string, unknown>();
  const { result } = await runLocal(words, { params: { text: 'to be or not to be' }, cache });
  assert.equal(result, 'be:2 to:2 not:1');
  assert.equal(cache.get('total'), 4);
});

test('words reads its text from the config without params', async () => {
  const config = await loadConfig({ dir: '.', file: 'app.properties', profile: 'dev' });
  const { result } = await runLocal(words, { config });
  assert.equal(result, 'dev:1 from:1 hello:1');
});
