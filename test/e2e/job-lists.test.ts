/**
 * The jobs and projects lists over REST, on SQLite and MySQL/MariaDB: searched by name (`q`, any case, wildcards
 * taken literally), filtered by kind, paged by id with a cursor, and each job with its run counts and latest run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { startHost, type Api, type TestHost } from '../helpers/host.js';
import { finishedRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const JOBS = `
export const ok = { execute() { return 'fine'; } };
export const boom = { execute() { throw new Error('boom'); } };
`;

interface JobItem {
  id: number;
  name: string;
  kind: string;
  runCounts: Record<string, number>;
  lastRun: { runId: string; status: string; scheduledAt: string; startedAt: string | null; endedAt: string | null } | null;
}

interface ListPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** Every page of a list, read with `limit` and the cursors handed out; asserts each page's size. */
async function allPages<T>(api: Api, path: string, limit: number): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res: { status: number; text: string; body: ListPage<T> } = await api.get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, res.text);
    assert.ok(res.body.items.length <= limit);
    if (res.body.nextCursor !== null) assert.equal(res.body.items.length, limit, 'only the last page is short');
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    pages++;
  } while (cursor);
  return { items, pages };
}

function refusedNaming(res: { status: number; body: { error?: { details?: { field?: string } } }; text: string }, field: string): void {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.error?.details?.field, field, res.text);
}

for (const database of testDatabases()) {
  describe(`the jobs and projects lists on ${database.name}`, { skip: database.skip }, () => {
    let th: TestHost;
    let drop: () => Promise<void>;
    let projectId: number;
    const ids = new Map<string, number>();

    before(async () => {
      const made = await database.make();
      drop = made.drop;
      th = await startHost({ db: made.db, options: { seedSamples: false } });
      projectId = (await th.api.post('/api/v1/projects', { name: 'Lists_Main' })).body.id;
      assert.equal((await th.api.upload(projectId, await threadBundle(JOBS))).status, 201);
      for (const name of ['other', 'Lists-two', 'plain']) assert.equal((await th.api.post('/api/v1/projects', { name })).status, 201);
      const jobs: [string, string, string | string[]][] = [
        ['Alpha_1', 'thread', 'ok'],
        ['alphaX1', 'thread', 'ok'],
        ['beta', 'thread', 'boom'],
        ['GAMMA-ALPHA', 'exec', ['true']],
        ['delta', 'exec', ['true']],
      ];
      for (const [name, kind, entry] of jobs) {
        const res = await th.api.post('/api/v1/jobs', { projectId, name, kind, entry, schedule: { type: 'MANUAL' } });
        assert.equal(res.status, 201, res.text);
        ids.set(name, res.body.id);
      }
    });

    after(async () => {
      await th?.stop();
      await drop?.();
    });

    test('jobs page by id ascending: the pages together are the whole list, and the last page has nextCursor null', async () => {
      const whole = await th.api.get<ListPage<JobItem>>('/api/v1/jobs');
      assert.equal(whole.status, 200, whole.text);
      assert.equal(whole.body.nextCursor, null);
      assert.deepEqual(whole.body.items.map((j) => j.name), ['Alpha_1', 'alphaX1', 'beta', 'GAMMA-ALPHA', 'delta']);
      const paged = await allPages<JobItem>(th.api, '/api/v1/jobs', 2);
      assert.equal(paged.pages, 3);
      assert.deepEqual(paged.items.map((j) => j.id), whole.body.items.map((j) => j.id));
      const exact = await allPages<JobItem>(th.api, '/api/v1/jobs', 5);
      assert.equal(exact.pages, 1, 'a page that holds the rest says there is no more');
    });

    test('q finds jobs by a part of their name in any case, and _ and % in it are plain characters', async () => {
      const names = async (query: string): Promise<string[]> => {
        const res = await th.api.get<ListPage<JobItem>>(`/api/v1/jobs?${query}`);
        assert.equal(res.status, 200, res.text);
        return res.body.items.map((j) => j.name);
      };
      assert.deepEqual(await names('q=ALPHA'), ['Alpha_1', 'alphaX1', 'GAMMA-ALPHA']);
      assert.deepEqual(await names('q=a_1'), ['Alpha_1'], 'an underscore is not "any character"');
      assert.deepEqual(await names(`q=${encodeURIComponent('%')}`), [], 'a percent sign is not "anything"');
      assert.deepEqual(await names(`q=${encodeURIComponent('!')}`), [], 'nor is the escape character special');
      assert.deepEqual(await names('q=alpha&kind=exec'), ['GAMMA-ALPHA']);
      assert.deepEqual(await names('kind=exec'), ['GAMMA-ALPHA', 'delta']);
      assert.deepEqual(await names(`q=alpha&projectId=${projectId}&state=STOPPED`), ['Alpha_1', 'alphaX1', 'GAMMA-ALPHA']);
      const paged = await allPages<JobItem>(th.api, '/api/v1/jobs?q=alpha', 1);
      assert.deepEqual(paged.items.map((j) => j.name), ['Alpha_1', 'alphaX1', 'GAMMA-ALPHA']);
    });

    test('projects page and search the same way', async () => {
      const paged = await allPages<{ id: number; name: string }>(th.api, '/api/v1/projects', 1);
      assert.deepEqual(paged.items.map((p) => p.name), ['Lists_Main', 'other', 'Lists-two', 'plain']);
      assert.equal(paged.pages, 4);
      const found = await th.api.get<ListPage<{ name: string }>>('/api/v1/projects?q=LISTS');
      assert.deepEqual(found.body, { items: found.body.items, nextCursor: null });
      assert.deepEqual(found.body.items.map((p) => p.name), ['Lists_Main', 'Lists-two']);
      assert.deepEqual((await th.api.get<ListPage<{ name: string }>>('/api/v1/projects?q=s_m')).body.items.map((p) => p.name), ['Lists_Main']);
    });

    test('a bad limit, cursor, kind or q is a 400 naming it', async () => {
      for (const path of ['/api/v1/jobs', '/api/v1/projects']) {
        for (const limit of ['0', '1001', 'ten', '-1']) refusedNaming(await th.api.get(`${path}?limit=${limit}`), 'limit');
        for (const cursor of ['nope', Buffer.from('id:x').toString('base64url'), Buffer.from('[1,"a"]').toString('base64url')]) {
          refusedNaming(await th.api.get(`${path}?cursor=${cursor}`), 'cursor');
        }
        refusedNaming(await th.api.get(`${path}?q=${'a'.repeat(201)}`), 'q');
      }
      refusedNaming(await th.api.get('/api/v1/jobs?kind=service'), 'kind');
    });

    test('each job shows how many runs it had in each status and its latest run; one without runs shows {} and null', async () => {
      const ok = ids.get('Alpha_1')!;
      const boom = ids.get('beta')!;
      const first = await finishedRun(th.api, (await th.api.post(`/api/v1/jobs/${ok}/trigger`)).body.runId);
      const second = await finishedRun(th.api, (await th.api.post(`/api/v1/jobs/${ok}/trigger`)).body.runId);
      const failed = await finishedRun(th.api, (await th.api.post(`/api/v1/jobs/${boom}/trigger`)).body.runId);
      assert.equal(first.status, 'SUCCEEDED');
      assert.equal(failed.status, 'FAILED');
      const listed = new Map((await th.api.get<ListPage<JobItem>>('/api/v1/jobs')).body.items.map((j) => [j.name, j]));
      assert.deepEqual(listed.get('Alpha_1')!.runCounts, { SUCCEEDED: 2 });
      assert.deepEqual(listed.get('Alpha_1')!.lastRun, {
        runId: second.runId,
        status: 'SUCCEEDED',
        scheduledAt: second.scheduledAt,
        startedAt: second.startedAt,
        endedAt: second.endedAt,
      });
      assert.deepEqual(listed.get('beta')!.runCounts, { FAILED: 1 });
      assert.equal(listed.get('beta')!.lastRun!.runId, failed.runId);
      assert.deepEqual(listed.get('delta')!.runCounts, {});
      assert.equal(listed.get('delta')!.lastRun, null);
      const one = await th.api.get<JobItem>(`/api/v1/jobs/${ok}`);
      assert.deepEqual(one.body.runCounts, { SUCCEEDED: 2 });
      assert.equal(one.body.lastRun!.runId, second.runId);
    });
  });
}
