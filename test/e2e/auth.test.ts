/**
 * Authentication, roles and project ownership over HTTP: no token, wrong password, API tokens, a developer who
 * cannot see another developer's project, a viewer who can read but not change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api, startHost, type TestHost } from '../helpers/host.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

describe('auth and ownership', () => {
  let th: TestHost;
  let alice: Api;
  let bob: Api;
  let viewer: Api;
  let aliceProject: number;

  before(async () => {
    th = await startHost();
    for (const [username, role] of [['alice', 'developer'], ['bob', 'developer'], ['vera', 'viewer']] as const) {
      const res = await th.api.post('/api/v1/users', { username, password: `${username}-password`, role });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.passwordHash, undefined, 'no hash in responses');
    }
    alice = await Api.login(th.url, 'alice', 'alice-password');
    bob = await Api.login(th.url, 'bob', 'bob-password');
    viewer = await Api.login(th.url, 'vera', 'vera-password');
    aliceProject = (await alice.post('/api/v1/projects', { name: 'alices' })).body.id;
    // A developer's project runs thread code only once an admin trusts it (test/e2e/trust.test.ts).
    assert.equal((await th.api.patch(`/api/v1/projects/${aliceProject}`, { trusted: true })).status, 200);
    await alice.upload(aliceProject, await threadBundle('export const ok = { execute() { return "ok"; } };'));
  });

  after(async () => {
    await th?.stop();
  });

  test('calls without a token get 401 and a wrong password gets 401', async () => {
    const anon = new Api(th.url, null);
    assert.equal((await anon.get('/api/v1/projects')).status, 401);
    const wrong = await anon.post('/api/v1/auth/login', { username: 'alice', password: 'nope-nope' });
    assert.equal(wrong.status, 401);
    assert.equal((await new Api(th.url, 'jcs_forged').get('/api/v1/projects')).status, 401);
    assert.equal((await fetch(`${th.url}/healthz`)).status, 200);
  });

  test('another developer cannot see or touch the project (404), the owner and admins can', async () => {
    assert.equal((await bob.get(`/api/v1/projects/${aliceProject}`)).status, 404);
    assert.equal((await bob.post('/api/v1/jobs', { projectId: aliceProject, name: 'x', kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } })).status, 404);
    assert.equal((await bob.upload(aliceProject, Buffer.from('x'))).status, 404);
    assert.deepEqual((await bob.get('/api/v1/projects')).body, { items: [], nextCursor: null });
    const job = await alice.post('/api/v1/jobs', { projectId: aliceProject, name: 'j', kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } });
    assert.equal(job.status, 201, job.text);
    assert.equal((await bob.get(`/api/v1/jobs/${job.body.id}`)).status, 404);
    assert.equal((await bob.post(`/api/v1/jobs/${job.body.id}/trigger`)).status, 404);
    const run = await alice.post(`/api/v1/jobs/${job.body.id}/trigger`);
    assert.equal(run.status, 202);
    assert.equal((await bob.get(`/api/v1/runs/${run.body.runId}`)).status, 404);
    assert.equal((await bob.get(`/api/v1/runs?jobId=${job.body.id}`)).status, 404);
    assert.equal((await finishedRun(alice, run.body.runId, { resources: true })).result, 'ok');
    assert.deepEqual((await listRuns(th.api, `jobId=${job.body.id}`)).map((r) => r.runId), [run.body.runId]);
    assert.equal((await th.api.get(`/api/v1/projects/${aliceProject}`)).status, 200);
  });

  test('a viewer reads everything and changes nothing (403)', async () => {
    assert.equal((await viewer.get(`/api/v1/projects/${aliceProject}`)).status, 200);
    assert.equal((await viewer.post('/api/v1/projects', { name: 'nope' })).status, 403);
    assert.equal((await viewer.patch(`/api/v1/projects/${aliceProject}`, { description: 'x' })).status, 403);
    assert.equal((await viewer.get('/api/v1/users')).status, 403);
  });

  test('API tokens work as bearer tokens until deleted', async () => {
    const made = await alice.post('/api/v1/tokens', { name: 'ci' });
    assert.equal(made.status, 201, made.text);
    const byToken = new Api(th.url, made.body.token);
    assert.equal((await byToken.get('/api/v1/projects')).body.items.length, 1);
    assert.equal((await alice.get('/api/v1/tokens')).body.length, 1);
    assert.equal((await bob.delete(`/api/v1/tokens/${made.body.id}`)).status, 404);
    assert.equal((await alice.delete(`/api/v1/tokens/${made.body.id}`)).status, 204);
    assert.equal((await byToken.get('/api/v1/projects')).status, 401);
  });

  test('a disabled user is refused at once, though the host remembers tokens it just checked', async () => {
    const made = await th.api.post('/api/v1/users', { username: 'dora', password: 'dora-password', role: 'developer' });
    const dora = await Api.login(th.url, 'dora', 'dora-password');
    assert.equal((await dora.get('/api/v1/projects')).status, 200);
    assert.equal((await th.api.patch(`/api/v1/users/${made.body.id}`, { disabled: true })).status, 200);
    assert.equal((await dora.get('/api/v1/projects')).status, 401);
  });

  test('the console sends a stranger to its login page; /metrics and /api/v1/hosts describe the host', async () => {
    const page = await fetch(`${th.url}/`, { redirect: 'manual' });
    assert.equal(page.status, 302);
    assert.equal(page.headers.get('location'), '/login');
    const metrics = (await viewer.get('/metrics')).text;
    assert.match(metrics, /^jobcenter_scheduled_jobs \d+$/m);
    const hosts = await viewer.get('/api/v1/hosts');
    assert.equal(hosts.status, 200);
    assert.equal(hosts.body.length, 1);
    assert.equal(hosts.body[0].db, 'sqlite');
    const { pools } = hosts.body[0];
    for (const count of ['threadWorkers', 'moduleContexts', 'moduleSpareWorkers', 'isolates', 'execGroups']) assert.ok(Number.isInteger(pools[count]) && pools[count] >= 0, `${count}: ${pools[count]}`);
    assert.match(pools.execContainment, /\w/);
    assert.match(pools.execSpawn, /^(vfork|fork)$/);
  });

  test('job events record who did what', async () => {
    const events = await th.api.get(`/api/v1/events?projectId=${aliceProject}`);
    assert.equal(events.status, 200);
    const actions = events.body.map((e: { action: string; actor: string }) => `${e.actor}:${e.action}`);
    assert.ok(actions.includes('alice:created'), JSON.stringify(actions));
    assert.ok(actions.includes('alice:triggered'), JSON.stringify(actions));
  });
});
