/**
 * The REST reference is the API: GET /api/v1/openapi.json is a valid OpenAPI 3.1 document, lists every route the
 * host's routers serve, its schemas compile, real answers match them, and the schemas it publishes are the ones the
 * door checks requests with (a refusal names its field, before any handler looks anything up).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { testDatabases } from '../helpers/db.js';
import { Api, REPO, startHost, type Reply, type TestHost } from '../helpers/host.js';
import { finishedRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';
import { Door } from '../../host/web/routes/door.js';
import { COMPONENTS, ROUTES } from '../../host/web/routes/openapi.js';

/** Documented now, served once the branches of issue 23 that add them are merged (item 9). */

interface Layer {
  path: string;
  methods: string[];
}

type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>; components: { schemas: Record<string, unknown> } };

/** Every method and path the koa app's routers serve, in OpenAPI's form (`/api/v1/jobs/{id}`). */
function servedRoutes(th: TestHost): string[] {
  const routes: string[] = [];
  for (const middleware of th.host.app.middleware as { router?: { stack: Layer[] } }[]) {
    // The web console's router serves HTML pages, not API routes (docs/console.md).
    if (middleware.router?.stack.some((layer) => layer.path === '/login')) continue;
    for (const layer of middleware.router?.stack ?? []) {
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) routes.push(`${method} ${layer.path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes;
}

for (const database of testDatabases()) {
  describe(`the REST reference on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let doc: Doc;
    let projectId: number;
    let jobId: number;

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db, options: { seedSamples: false } });
      const res = await new Api(th.url, null).get<Doc>('/api/v1/openapi.json');
      assert.equal(res.status, 200, res.text.slice(0, 300));
      doc = res.body;
      projectId = (await th.api.post('/api/v1/projects', { name: 'reference' })).body.id;
      assert.equal((await th.api.upload(projectId, await threadBundle('export const ok = { execute() { return "ok"; } };'))).status, 201);
      const job = await th.api.post('/api/v1/jobs', { projectId, name: 'ok', kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } });
      assert.equal(job.status, 201, job.text);
      jobId = job.body.id;
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    test('the document is served without a token and is valid OpenAPI 3.1', async () => {
      assert.equal(doc.openapi, '3.1.0');
      const result = await new Validator().validate(structuredClone(doc) as unknown as Record<string, unknown>);
      assert.ok(result.valid, JSON.stringify(result.errors, null, 2)?.slice(0, 3000));
    });

    test('every route the routers serve is in the document, and every documented route is served', () => {
      const served = servedRoutes(th);
      assert.ok(served.length >= 30, `${served.length} routes served: ${served.join(', ')}`);
      for (const expected of ['GET /healthz', 'GET /metrics', 'POST /api/v1/auth/login', 'GET /api/v1/openapi.json', 'POST /api/v1/projects/{id}/bundles', 'GET /api/v1/runs/{runId}/log']) {
        assert.ok(served.includes(expected), `${expected} is served`);
      }
      const documented = Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
      assert.deepEqual(served.filter((route) => !documented.includes(route)), [], 'served but not documented');
      assert.deepEqual(documented.filter((route) => !served.includes(route)), [], 'documented but not served');
    });

    test('docs/api.md, the reference for people, names every route of the document', async () => {
      const text = await readFile(path.join(REPO, 'docs', 'api.md'), 'utf8');
      const missing = Object.entries(doc.paths)
        .flatMap(([route, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${route.replace(/\{(\w+)\}/g, ':$1')}`))
        .filter((route) => !new RegExp(`${route.replace(/[.?*+^$()[\]\\|{}]/g, '\\$&')}(?=[?\\s\`|]|$)`, 'm').test(text));
      assert.deepEqual(missing, []);
    });

    test('every schema of the document compiles as JSON Schema 2020-12 in strict mode', () => {
      const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, discriminator: true, formats: { 'date-time': true, uuid: true } });
      ajv.addKeyword({ keyword: 'components' });
      ajv.addSchema({ $id: 'doc', components: doc.components });
      for (const name of Object.keys(doc.components.schemas)) assert.ok(ajv.getSchema(`doc#/components/schemas/${name}`), name);
    });

    test("every route's door compiles its checks (the host compiles them on a route's first request)", () => {
      const door = new Door(COMPONENTS);
      for (const spec of ROUTES) assert.doesNotThrow(() => door.checks(spec), `${spec.method} ${spec.path}`);
    });

    test('real answers match the schemas the document gives them', async () => {
      const trigger = await th.api.post(`/api/v1/jobs/${jobId}/trigger`, { params: { n: 1 } });
      assert.equal(trigger.status, 202, trigger.text);
      const run = await finishedRun(th.api, trigger.body.runId);
      const token = await th.api.post('/api/v1/tokens', { name: 'reference', ttlDays: 1 });
      const ajv = new Ajv2020({ strict: false, allowUnionTypes: true, discriminator: true, formats: { 'date-time': true, uuid: true } });
      ajv.addKeyword({ keyword: 'components' });
      ajv.addSchema({ $id: 'doc', components: doc.components });
      const checks: [method: string, path: string, status: number, reply: Reply][] = [
        ['get', '/healthz', 200, await th.api.get('/healthz')],
        ['get', '/api/v1/auth/me', 200, await th.api.get('/api/v1/auth/me')],
        ['get', '/api/v1/projects/{id}', 200, await th.api.get(`/api/v1/projects/${projectId}`)],
        ['get', '/api/v1/projects/{id}/bundles', 200, await th.api.get(`/api/v1/projects/${projectId}/bundles`)],
        ['get', '/api/v1/jobs/{id}', 200, await th.api.get(`/api/v1/jobs/${jobId}`)],
        ['post', '/api/v1/jobs/{id}/trigger', 202, trigger],
        ['get', '/api/v1/runs/{runId}', 200, await th.api.get(`/api/v1/runs/${run.runId}`)],
        ['get', '/api/v1/runs', 200, await th.api.get(`/api/v1/runs?jobId=${jobId}`)],
        ['get', '/api/v1/events', 200, await th.api.get(`/api/v1/events?jobId=${jobId}`)],
        ['get', '/api/v1/hosts', 200, await th.api.get('/api/v1/hosts')],
        ['get', '/api/v1/users', 200, await th.api.get('/api/v1/users')],
        ['post', '/api/v1/tokens', 201, token],
        ['get', '/api/v1/tokens', 200, await th.api.get('/api/v1/tokens')],
        ['get', '/api/v1/jobs/{id}', 404, await th.api.get('/api/v1/jobs/999999')],
        ['patch', '/api/v1/jobs/{id}', 400, await th.api.patch(`/api/v1/jobs/${jobId}`, { surprise: 1 })],
      ];
      for (const [method, path, status, reply] of checks) {
        assert.equal(reply.status, status, `${method} ${path}: ${reply.text.slice(0, 300)}`);
        const schema = doc.paths[path]?.[method]?.responses[status]?.content?.['application/json']?.schema;
        assert.ok(schema, `${method} ${path} documents a JSON answer for ${status}`);
        const validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components', '"doc#/components')));
        assert.ok(validate(reply.body), `${method} ${path} ${status}: ${JSON.stringify(validate.errors)} in ${reply.text.slice(0, 500)}`);
      }
    });

    test('the door refuses bad input naming the field before the handler looks anything up, and changes nothing', async () => {
      const before = (await th.api.get(`/api/v1/jobs/${jobId}`)).body;
      const refusals: [Promise<Reply>, string, RegExp][] = [
        // The job does not exist: a handler would have answered 404; the door answers first.
        [th.api.patch('/api/v1/jobs/999999', { timeoutMs: 'soon' }), 'timeoutMs', /^timeoutMs must be a whole number from 1 to/],
        [th.api.patch(`/api/v1/jobs/${jobId}`, { surprise: true }), 'surprise', /^unknown field "surprise"$/],
        [th.api.patch(`/api/v1/jobs/${jobId}`, { schedule: { type: 'INTERVAL', everyMs: 5 } }), 'schedule.everyMs', /^schedule\.everyMs must be a whole number from 1000 to/],
        [th.api.patch(`/api/v1/jobs/${jobId}`, { retries: { count: 1, backoff: { type: 'soon' } } }), 'retries.backoff.type', /must be one of fixed, exponential/],
        [th.api.patch(`/api/v1/jobs/${jobId}`, { entry: ['echo', 5] }), 'entry[1]', /^entry\[1\] must be/],
        [th.api.patch(`/api/v1/jobs/${jobId}`, { schedule: { type: 'HOURLY' } }), 'schedule.type', /must be one of MANUAL, INTERVAL, CRON/],
        [th.api.post('/api/v1/jobs', { projectId, name: 'x', kind: 'thread', entry: 'ok' }), 'schedule', /^schedule is required$/],
        [th.api.get('/api/v1/runs?limit=1e3'), 'limit', /^limit must be a whole number from 1 to 1000$/],
        [th.api.get('/api/v1/runs?status=DONE'), 'status', /^status must be one or more of QUEUED/],
        [th.api.get('/api/v1/jobs/1.5'), 'id', /^id must be a positive whole number \(an id\)$/],
        [th.api.post('/api/v1/users', { username: 'someone', password: 'short' }), 'password', /^password must be 8 to 200 characters$/],
      ];
      for (const [reply, field, message] of refusals) {
        const res = await reply;
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.error.code, 'BAD_REQUEST');
        assert.equal(res.body.error.details?.field, field, res.text);
        assert.match(res.body.error.message, message);
      }
      assert.deepEqual((await th.api.get(`/api/v1/jobs/${jobId}`)).body, before, 'the refused changes changed nothing');
      assert.equal((await th.api.get('/api/v1/users')).body.length, 1, 'no user was made');
      // Who may call comes first: a stranger learns nothing about the fields.
      assert.equal((await new Api(th.url, null).patch(`/api/v1/jobs/${jobId}`, { surprise: true })).status, 401);
    });
  });
}
