import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { introspectMain } from '../../../host/executors/introspect/introspect.js';
import { silentLogger } from '../../../host/log/logger.js';

function moduleMain(name: string): string {
  const near = fileURLToPath(new URL(`../../fixtures/module/${name}`, import.meta.url));
  const dir = existsSync(near) ? near : fileURLToPath(new URL(`../../../../test/fixtures/module/${name}`, import.meta.url));
  return path.join(dir, 'index.mjs');
}

const opts = { timeoutMs: 10_000, memoryLimitMb: 128, logger: silentLogger };

describe('introspection of module bundles', () => {
  test('the booted context lists its job and resolver beans, in build order', async () => {
    const exports = await introspectMain(moduleMain('graph'), 'module', opts);
    assert.deepEqual(exports, [
      { name: 'countRows', type: 'job' },
      { name: 'listRows', type: 'job' },
      { name: 'subJobs', type: 'resolver' },
      { name: 'hang', type: 'job' },
    ]);
  });

  test('a failing bean, a cycle, a missing bean or no module definition is UNPROCESSABLE naming the cause', async () => {
    const cases: Array<[string, RegExp]> = [
      ['broken-bean', /^module context failed to start: bean "pool" failed to build: Error: cannot connect to the database$/],
      ['cycle', /^module context failed to start: dependency cycle: gamma → alpha → beta → gamma$/],
      ['missing-bean', /^module context failed to start: bean "report" needs bean "mailer", which is not defined$/],
      ['not-a-module', /must default-export a module definition/],
    ];
    for (const [fixture, pattern] of cases) {
      await assert.rejects(introspectMain(moduleMain(fixture), 'module', opts), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'UNPROCESSABLE');
        assert.match(err.message, pattern);
        return true;
      });
    }
  });
});
