import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, startModuleLocal } from '@jobcenter/sdk';
import app, { type OrderRepository } from '../src/index.js';

test('both job beans share one repository bean', async () => {
  const config = await loadConfig({ dir: '.', file: 'application.properties', profile: 'dev' });
  const mod = await startModuleLocal(app, { config });
  try {
    assert.equal((await mod.run('countOrders', { params: { minAmount: 20 } })).result, '2 orders');
    assert.equal((await mod.run('sumOrders')).result, 'sum 60');
    const repo = await mod.get<OrderRepository>('repository');
    assert.equal(repo.region, 'dev');
    assert.deepEqual(mod.logs.map((l) => l.message), ['repository: opening dev with 3 orders', 'module started']);
  } finally {
    await mod.stop();
  }
});
