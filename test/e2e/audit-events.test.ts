/**
 * The audit trail covers every entity, over HTTP on SQLite and MySQL/MariaDB: projects, bundles, users, logins and
 * tokens are recorded with their actor and their changes; GET /api/v1/events filters and pages them, and shows a
 * developer only their projects' events and their own account's. DELETE /api/v1/users/:id and its refusals.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JobEventRecord } from '../../host/domain/index.js';
import { testDatabases } from '../helpers/db.js';
import { Api, hostPerSuite, type TestHost } from '../helpers/host.js';
import { threadBundle } from '../helpers/zip.js';

type Event = Omit<JobEventRecord, 'at'> & { at: string };

for (const database of testDatabases()) {
  describe(`the audit trail on ${database.name}`, { skip: database.skip }, () => {
    const host = hostPerSuite(database, { before, after });
    let th: TestHost;
    let dev: Api;
    let devId: number;
    let projectId: number;
    let bundleId: number;

    const events = async (api: Api, query: string): Promise<Event[]> => {
      const res = await api.get<Event[]>(`/api/v1/events?${query}`);
      assert.equal(res.status, 200, res.text);
      return res.body;
    };
    const actions = (list: Event[]): string[] => list.map((e) => `${e.entity}:${e.action}`).reverse();

    before(() => {
      th = host();
    });

    test('accounts, sessions and tokens are recorded with who did it and what changed', async () => {
      const created = await th.api.post('/api/v1/users', { username: 'dana', password: 'dana-password-1', role: 'viewer' });
      assert.equal(created.status, 201, created.text);
      devId = created.body.id;
      assert.equal((await th.api.patch(`/api/v1/users/${devId}`, { role: 'developer' })).status, 200);
      assert.equal((await new Api(th.url, null).post('/api/v1/auth/login', { username: 'dana', password: 'wrong-password' })).status, 401);
      dev = await Api.login(th.url, 'dana', 'dana-password-1');
      const token = await dev.post('/api/v1/tokens', { name: 'ci' });
      assert.equal(token.status, 201);
      assert.equal((await dev.delete(`/api/v1/tokens/${token.body.id}`)).status, 204);

      const trail = await events(th.api, `entity=user&entityId=${devId}`);
      assert.deepEqual(actions(trail), ['user:created', 'user:updated']);
      assert.equal(trail[0]!.actor, 'admin');
      assert.deepEqual(trail[0]!.details, { role: { before: 'viewer', after: 'developer' } });
      const own = await events(dev, 'limit=50');
      assert.deepEqual(actions(own), ['user:created', 'user:updated', 'session:login_failed', 'session:login', 'token:created', 'token:revoked']);
      assert.ok(own.every((e) => e.userId === devId && e.projectId === 0));
      assert.equal(own.find((e) => e.action === 'login_failed')!.actor, 'dana');
      assert.equal(own.find((e) => e.action === 'revoked')!.entityId, token.body.id);
    });

    test('projects and bundles are recorded, and a developer reads their own project\'s events but nobody else\'s', async () => {
      const project = await th.api.post('/api/v1/projects', { name: 'audited' });
      projectId = project.body.id;
      assert.equal((await th.api.patch(`/api/v1/projects/${projectId}`, { ownerId: devId, description: 'now dana\'s' })).status, 200);
      const upload = await dev.upload(projectId, await threadBundle('export const a = { execute() {} };'));
      assert.equal(upload.status, 201, upload.text);
      bundleId = upload.body.id;
      assert.equal((await dev.upload(projectId, await threadBundle('export const b = { execute() {} };'))).status, 201);
      assert.equal((await dev.post(`/api/v1/projects/${projectId}/bundles/${bundleId}/activate`)).status, 200);
      assert.equal((await dev.delete(`/api/v1/projects/${projectId}/bundles/${bundleId + 1}`)).status, 204);

      const trail = await events(dev, `projectId=${projectId}`);
      assert.deepEqual(actions(trail), ['project:created', 'project:trust', 'project:updated', 'bundle:uploaded', 'bundle:uploaded', 'bundle:activated', 'bundle:deleted']);
      const updated = trail.find((e) => e.action === 'updated')!;
      assert.deepEqual(updated.details, { description: { before: '', after: "now dana's" }, ownerId: { before: 1, after: devId } });
      assert.deepEqual(actions(await events(dev, `entity=bundle&entityId=${bundleId}`)), ['bundle:uploaded', 'bundle:activated']);
      assert.deepEqual(actions(await events(dev, `actor=admin&projectId=${projectId}`)), ['project:created', 'project:trust', 'project:updated']);

      // The admin's own logins are not the developer's to read; the developer's are.
      const seen = await events(dev, 'limit=1000');
      assert.ok(seen.every((e) => e.projectId === projectId || e.userId === devId), JSON.stringify(seen));
      assert.ok((await events(th.api, 'entity=session')).some((e) => e.userId === devId));
    });

    test('the list pages by beforeId and filters by time', async () => {
      const all = await events(th.api, 'limit=1000');
      const ids = all.map((e) => e.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
      const first = await events(th.api, 'limit=3');
      const second = await events(th.api, `limit=3&beforeId=${first[2]!.id}`);
      assert.deepEqual([...first, ...second].map((e) => e.id), ids.slice(0, 6));
      const from = new Date(Date.parse(all[0]!.at)).toISOString();
      assert.ok((await events(th.api, `from=${from}`)).every((e) => Date.parse(e.at) >= Date.parse(from)));
      assert.deepEqual(await events(th.api, `to=${new Date(Date.parse(all[all.length - 1]!.at)).toISOString()}`), []);
      assert.equal((await th.api.get('/api/v1/events?entity=planet')).status, 400);
    });

    test('deleting a user: refused for oneself (so never the last enabled admin) and for the owner of projects; their sessions go', async () => {
      const me = (await th.api.get('/api/v1/auth/me')).body;
      assert.equal((await th.api.delete(`/api/v1/users/${me.id}`)).status, 409);
      assert.equal((await th.api.delete(`/api/v1/users/${devId}`)).status, 409, 'dana owns a project');
      assert.equal((await dev.delete(`/api/v1/users/${devId}`)).status, 403);
      assert.equal((await th.api.patch(`/api/v1/projects/${projectId}`, { ownerId: me.id })).status, 200);
      assert.equal((await th.api.delete(`/api/v1/users/${devId}`)).status, 204);
      assert.equal((await dev.get('/api/v1/auth/me')).status, 401, 'the session went with the user');
      assert.equal((await th.api.delete(`/api/v1/users/${devId}`)).status, 404);
      const [deleted] = await events(th.api, `entity=user&entityId=${devId}&limit=1`);
      assert.equal(deleted!.action, 'deleted');

    });
  });
}
