/**
 * Bad input never makes a 500: every route of the REST API gets a malformed value in each of its path parameters,
 * query parameters and body fields in turn (the others valid), and malformed bodies as a whole, on SQLite and on
 * MySQL/MariaDB. Every answer is below 500, and every 400 names what was wrong.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { eventually, startHost, type Reply, type TestHost } from '../helpers/host.js';
import { checkRunContract } from '../helpers/run-contract.js';
import { threadBundle } from '../helpers/zip.js';
import { HOSTILE_AND_GOOD } from '../fixtures/e2e/jobs.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Route {
  method: Method;
  /** With :name placeholders, filled from `params`. */
  path: string;
  /** Valid values of the path parameters. */
  params?: Record<string, string>;
  /** Query parameters, with a valid value each. */
  query?: Record<string, string>;
  /** A valid body; each field named in `fields` (dotted for nested ones) is malformed in turn. */
  body?: Record<string, unknown>;
  fields?: string[];
  /** The body is multipart (a bundle upload): a JSON body is wrong as a whole, and what is missing is "file". */
  multipart?: boolean;
}

interface Fixture {
  projectId: number;
  bundleId: number;
  patchProjectId: number;
  jobId: number;
  patchJobId: number;
  runId: string;
  userId: number;
}

/** A value given as JSON text: nested too deep for JSON.stringify (the host's old failure) to write it. */
class JsonText {
  constructor(readonly text: string) {}
}

/** JSON nested `depth` levels: [[[…]]]. */
function nested(depth: number): JsonText {
  return new JsonText(`${'['.repeat(depth)}${']'.repeat(depth)}`);
}

const PLACEHOLDER = '\u0001json-text\u0001';

/** The body as JSON text, with any JsonText spliced in as it is. */
function bodyText(body: Record<string, unknown>, field: string, value: unknown): string {
  if (!(value instanceof JsonText)) return JSON.stringify(withValue(body, field, value));
  return JSON.stringify(withValue(body, field, PLACEHOLDER)).replace(JSON.stringify(PLACEHOLDER), () => value.text);
}

const BAD_TEXT = [
  'abc', '-1', '1.5', '', '0', '00', '1e3', ' 1', '0x10', 'NaN', 'Infinity', '99999999999999999999999', "1'", '%',
  '١', 'null', '[]', '{}', '\u0000', 'x'.repeat(10_000),
];
const cursor = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
/** Malformed values that only some parameters can be given: look-alikes of what they take. */
const BAD_LOOKALIKES: Record<string, string[]> = {
  runId: ['00000000-0000-0000-0000-000000000000', '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5Bx', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5'],
  cursor: [cursor([1e300, 'x']), cursor([0, "a\u0000'"]), cursor([0]), cursor(['a', 'b']), cursor([-9e15, '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b']), cursor({})],
  from: ['99999-01-01', '-000001-01-01T00:00:00Z', '2026-13-01', '0000-01-01T00:00:00Z'],
  to: ['+275760-09-13T00:00:00Z', '2026-02-30T00:00:00Z'],
};
const BAD_VALUES: unknown[] = [
  'abc', '-1', -1, 1.5, '', 0, 2 ** 64, 1e308, -1e308, true, false, null, [], [1, 'a'], {}, { a: { b: 1 } },
  'x'.repeat(200_000), "'\"\\\u0000é", nested(40), nested(10_000),
];

/** Whole bodies that are not what any route takes, and what a 400 about each must name. */
const BAD_BODIES: [text: string, field: string][] = [
  ['{"a":', 'body'],
  ['not json', 'body'],
  ['[]', 'body'],
  ['"text"', 'body'],
  ['123', 'body'],
  ['null', 'body'],
  [nested(10_000).text, 'body'],
  [`{"a":${nested(10_000).text}}`, 'a'],
];

function routes(f: Fixture): Route[] {
  const job = { projectId: f.projectId, name: 'made-by-bad-input', kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } };
  const jobFields = [
    'projectId', 'name', 'kind', 'entry', 'params', 'configFile', 'profile', 'config', 'schedule', 'concurrency', 'maxQueue',
    'timeoutMs', 'memoryLimitMb', 'misfire', 'onInterrupt', 'shell', 'grants', 'retries', 'start', 'config.key', 'schedule.type',
  ];
  const interval = { ...job, schedule: { type: 'INTERVAL', everyMs: 60_000, startAt: '2030-01-01T00:00:00Z', endAt: '2031-01-01T00:00:00Z' } };
  const cron = { ...job, schedule: { type: 'CRON', cron: '0 0 * * * *', timezone: 'UTC' } };
  const retries = { ...job, retries: { count: 1, backoff: { type: 'fixed', delayMs: 10, maxDelayMs: 5_000 } }, grants: { fetch: true } };
  const retryFields = ['retries.count', 'retries.backoff', 'retries.backoff.type', 'retries.backoff.delayMs', 'retries.backoff.maxDelayMs', 'grants.fetch'];
  const id = { id: String(f.jobId) };
  const runId = { runId: f.runId };
  return [
    { method: 'POST', path: '/api/v1/auth/login', body: { username: 'admin', password: 'wrong-password' }, fields: ['username', 'password'] },
    { method: 'GET', path: '/api/v1/auth/me' },
    { method: 'GET', path: '/api/v1/projects', query: { q: 'bad', limit: '10', cursor: '' } },
    { method: 'POST', path: '/api/v1/projects', body: { name: 'made-by-bad-input', description: 'd' }, fields: ['name', 'description'] },
    { method: 'GET', path: '/api/v1/projects/:id', params: { id: String(f.projectId) } },
    { method: 'PATCH', path: '/api/v1/projects/:id', params: { id: String(f.patchProjectId) }, body: {}, fields: ['name', 'description', 'ownerId'] },
    { method: 'DELETE', path: '/api/v1/projects/:id', params: { id: '999999' } },
    { method: 'GET', path: '/api/v1/projects/:id/bundles', params: { id: String(f.projectId) } },
    { method: 'POST', path: '/api/v1/projects/:id/bundles', params: { id: String(f.patchProjectId) }, multipart: true },
    { method: 'DELETE', path: '/api/v1/projects/:id/bundles/:bundleId', params: { id: String(f.projectId), bundleId: '999999' }, query: { force: '1' } },
    { method: 'POST', path: '/api/v1/projects/:id/bundles/:bundleId/activate', params: { id: String(f.projectId), bundleId: String(f.bundleId) } },
    { method: 'GET', path: '/api/v1/jobs', query: { projectId: String(f.projectId), state: 'STOPPED', kind: 'thread', q: 'target', limit: '10', cursor: '' } },
    { method: 'POST', path: '/api/v1/jobs', body: job, fields: jobFields },
    { method: 'POST', path: '/api/v1/jobs', body: interval, fields: ['schedule.everyMs', 'schedule.startAt', 'schedule.endAt'] },
    { method: 'POST', path: '/api/v1/jobs', body: cron, fields: ['schedule.cron', 'schedule.timezone'] },
    { method: 'POST', path: '/api/v1/jobs', body: retries, fields: retryFields },
    { method: 'GET', path: '/api/v1/jobs/:id', params: id },
    { method: 'PATCH', path: '/api/v1/jobs/:id', params: { id: String(f.patchJobId) }, body: {}, fields: jobFields },
    { method: 'DELETE', path: '/api/v1/jobs/:id', params: { id: '999999' } },
    { method: 'POST', path: '/api/v1/jobs/:id/start', params: { id: '999999' } },
    { method: 'POST', path: '/api/v1/jobs/:id/stop', params: { id: '999999' } },
    { method: 'POST', path: '/api/v1/jobs/:id/trigger', params: id, body: { params: { n: 1 } }, fields: ['params'] },
    { method: 'GET', path: '/api/v1/jobs/:id/subjobs', params: id },
    { method: 'GET', path: '/api/v1/jobs/:id/fires', params: id, query: { count: '5' } },
    {
      method: 'POST',
      path: '/api/v1/schedules/preview',
      body: { schedule: { type: 'CRON', cron: '0 0 * * * *', timezone: 'UTC' }, startAt: '2030-01-01T00:00:00Z', endAt: '2031-01-01T00:00:00Z', count: 3 },
      fields: ['schedule', 'startAt', 'endAt', 'count', 'schedule.type', 'schedule.cron', 'schedule.timezone'],
    },
    {
      method: 'GET',
      path: '/api/v1/runs',
      query: { jobId: String(f.jobId), projectId: String(f.projectId), status: 'SUCCEEDED', from: '2020-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z', limit: '10', cursor: '' },
    },
    { method: 'GET', path: '/api/v1/runs/:runId', params: runId },
    { method: 'GET', path: '/api/v1/runs/:runId/log', params: runId, query: { follow: '1' } },
    { method: 'POST', path: '/api/v1/runs/:runId/kill', params: runId },
    { method: 'GET', path: '/api/v1/hosts' },
    { method: 'GET', path: '/api/v1/events', query: { jobId: String(f.jobId), projectId: String(f.projectId), limit: '10' } },
    { method: 'GET', path: '/api/v1/users' },
    { method: 'POST', path: '/api/v1/users', body: { username: 'made-by-bad-input', password: 'a-good-password', role: 'viewer' }, fields: ['username', 'password', 'role'] },
    { method: 'PATCH', path: '/api/v1/users/:id', params: { id: String(f.userId) }, body: {}, fields: ['role', 'password', 'disabled'] },
    { method: 'GET', path: '/api/v1/tokens' },
    { method: 'POST', path: '/api/v1/tokens', body: { name: 'bad-input', ttlDays: 1 }, fields: ['name', 'ttlDays'] },
    { method: 'DELETE', path: '/api/v1/tokens/:id', params: { id: '999999' } },
  ];
}

function withValue(body: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  const keys = field.split('.');
  let at: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]!] = value;
  return copy;
}

function url(route: Route, params: Record<string, string>, query: string): string {
  const path = route.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  return query ? `${path}?${query}` : path;
}

function queryText(query: Record<string, string>): string {
  return new URLSearchParams(query).toString();
}

/** One request and what it must not be: each case says which field it spoiled. */
interface Case {
  method: Method;
  path: string;
  body?: string;
  field: string;
  value: unknown;
  /** Other names a 400 may give instead of `field`. */
  or?: string;
}

function cases(route: Route): Case[] {
  const out: Case[] = [];
  const params = route.params ?? {};
  const query = route.query ?? {};
  const body = route.body === undefined ? undefined : JSON.stringify(route.body);
  const valid = url(route, params, queryText(query));
  // The valid request itself: a 400 here would make every case below prove nothing.
  if (!route.multipart) out.push({ method: route.method, path: valid, body, field: '', value: 'a valid request' });
  for (const name of Object.keys(params)) {
    for (const value of [...BAD_TEXT, ...(BAD_LOOKALIKES[name] ?? [])]) {
      out.push({ method: route.method, path: url(route, { ...params, [name]: value }, queryText(query)), body, field: name, value });
    }
  }
  for (const name of Object.keys(query)) {
    for (const value of [...BAD_TEXT, ...(BAD_LOOKALIKES[name] ?? [])]) {
      out.push({ method: route.method, path: url(route, params, queryText({ ...query, [name]: value })), body, field: name, value });
    }
    const repeated = `${queryText(query)}&${new URLSearchParams([[name, '1'], [name, '2']]).toString()}`;
    out.push({ method: route.method, path: url(route, params, repeated), body, field: name, value: ['1', '2'] });
  }
  for (const field of route.fields ?? []) {
    for (const value of BAD_VALUES) out.push({ method: route.method, path: valid, body: bodyText(route.body!, field, value), field, value });
  }
  if (route.method !== 'GET' && route.method !== 'DELETE') {
    for (const [text, field] of BAD_BODIES) {
      // A JSON body to the upload route: not multipart ("file"), or not JSON at all ("body").
      out.push({ method: route.method, path: valid, body: text, field, value: text, ...(route.multipart ? { or: 'file' } : {}) });
    }
  }
  return out;
}

function shown(value: unknown): string {
  const text = value instanceof JsonText ? value.text : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}… (${text.length} chars)` : text;
}

for (const database of testDatabases()) {
  describe(`bad input on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let fixture: Fixture;

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db, options: { seedSamples: false } });
      const created = async (reply: Promise<Reply>): Promise<Reply> => {
        const res = await reply;
        assert.equal(res.status, 201, res.text);
        return res;
      };
      const projectId = (await created(th.api.post('/api/v1/projects', { name: 'bad-input' }))).body.id;
      const bundleId = (await created(th.api.upload(projectId, await threadBundle(HOSTILE_AND_GOOD)))).body.id;
      const patchProjectId = (await created(th.api.post('/api/v1/projects', { name: 'patched' }))).body.id;
      const mk = async (name: string): Promise<number> =>
        (await created(th.api.post('/api/v1/jobs', { projectId, name, kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } }))).body.id;
      const jobId = await mk('target');
      const patchJobId = await mk('patched');
      const runId = (await th.api.post(`/api/v1/jobs/${jobId}/trigger`)).body.runId as string;
      await eventually('the run to succeed', async () => {
        const run = (await th.api.get(`/api/v1/runs/${runId}`)).body;
        return run.status === 'SUCCEEDED' ? checkRunContract(run) : undefined;
      });
      const userId = (await created(th.api.post('/api/v1/users', { username: 'someone', password: 'a-good-password', role: 'viewer' }))).body.id;
      fixture = { projectId, bundleId, patchProjectId, jobId, patchJobId, runId, userId };
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    test('every route answers a malformed value of each of its parameters and fields with a 4xx that names it', async () => {
      const failures: string[] = [];
      let count = 0;
      for (const route of routes(fixture)) {
        for (const c of cases(route)) {
          count++;
          const res = await th.api.request<{ error?: unknown }>(c.method, c.path, c.body);
          const what = `${c.method} ${route.path} with ${c.field} = ${shown(c.value)}: ${res.status}`;
          if (res.status >= 500) failures.push(`${what} ${res.text.slice(0, 200)}`);
          else if (c.field === '' && res.status === 400) failures.push(`${what} ${res.text.slice(0, 200)}`);
          else if (res.status === 400 && ![c.field, c.or ?? c.field].some((name) => JSON.stringify(res.body?.error ?? res.text).includes(name))) {
            failures.push(`${what} does not name ${c.field}: ${res.text.slice(0, 200)}`);
          }
        }
      }
      assert.ok(count > 1_000, `${count} requests`);
      assert.equal(failures.length, 0, `${failures.length} of ${count} requests:\n${failures.join('\n')}`);
    });

    test('params nested 31 levels, as deep as a body allows below it, are stored and read back; one more is a 400', async () => {
      let params: unknown = { leaf: "'\\\u0000é" };
      for (let depth = 1; depth < 31; depth++) params = [params];
      const body = { projectId: fixture.projectId, name: 'deepest', kind: 'thread', entry: 'ok', schedule: { type: 'MANUAL' } };
      const created = await th.api.post('/api/v1/jobs', { ...body, params });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual((await th.api.get(`/api/v1/jobs/${created.body.id}`)).body.params, params);
      const deeper = await th.api.post('/api/v1/jobs', { ...body, name: 'deeper', params: [params] });
      assert.equal(deeper.status, 400, deeper.text);
      assert.equal(deeper.body.error.details.field, 'params');
    });

    test('an upload without a usable "file" field is a 4xx naming it', async () => {
      const path = `/api/v1/projects/${fixture.patchProjectId}/bundles`;
      const answers: Reply[] = [
        await th.api.request('POST', path, JSON.stringify({ file: 'abc' })),
        await th.api.upload(fixture.patchProjectId, Buffer.from('not a zip')),
        await th.api.upload(fixture.patchProjectId, Buffer.alloc(0)),
      ];
      const form = new FormData();
      form.append('other', new Blob([Buffer.from('x')]), 'x.zip');
      const res = await fetch(`${th.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${th.api.token}` }, body: form });
      answers.push({ status: res.status, body: await res.json(), text: '' });
      const broken = await fetch(`${th.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${th.api.token}`, 'content-type': 'multipart/form-data; boundary=xyz' },
        body: '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n\r\nabc',
      });
      answers.push({ status: broken.status, body: await broken.json(), text: '' });
      for (const answer of answers) {
        assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${JSON.stringify(answer.body)}`);
      }
    });
  });
}
