/** BundleRuns: which runs use which bundle version, and a delete's claim on a version. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BundleRuns, type BundleUser } from '../../host/dispatch/bundle-runs.js';

const run = (runId: string, status: BundleUser['status'] = 'RUNNING'): BundleUser => ({ runId, jobId: 1, status });

describe('BundleRuns', () => {
  test('a claim is refused with the runs that use the version, and granted once they released it', () => {
    const runs = new BundleRuns();
    const a = run('a');
    const b = run('b', 'QUEUED');
    assert.equal(runs.use(7, a), true);
    assert.equal(runs.use(7, b), true);
    assert.equal(runs.use(8, run('c')), true);
    assert.deepEqual(runs.claim(7), [a, b]);
    runs.release(7, a);
    runs.release(7, b);
    assert.deepEqual(runs.claim(7), []);
  });

  test('a claimed version cannot be taken up by a run until it is unclaimed', () => {
    const runs = new BundleRuns();
    assert.deepEqual(runs.claim(7), []);
    assert.equal(runs.use(7, run('late')), false);
    assert.equal(runs.use(8, run('other')), true, 'other versions are not affected');
    runs.unclaim(7);
    assert.equal(runs.use(7, run('after')), true);
  });
});
