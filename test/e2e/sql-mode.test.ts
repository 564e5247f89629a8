/**
 * What a job returns, throws and caches, and what a client puts in a job's params, is stored verbatim whatever the
 * server's sql_mode: on SQLite, on the shared MariaDB (its default mode), and on a private MariaDB whose sessions
 * start with NO_BACKSLASH_ESCAPES, where backslash-escaped literals once became SQL (a result could write the
 * admin's password hash into its run row), runs stayed RUNNING and the samples did not seed.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { after, before, describe, test } from 'node:test';
import type { HostConfig } from '../../host/config/index.js';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { eventually, SAMPLES, sleep, startHost, type TestHost } from '../helpers/host.js';
import { PrivateMariadb, privateMariadbSkipReason } from '../helpers/private-mariadb.js';
import { checkRunContract, type ContractRun } from '../helpers/run-contract.js';
import { threadBundle } from '../helpers/zip.js';

/** Backslash-quote ends a backslash-escaped literal early under NO_BACKSLASH_ESCAPES; the rest would then be SQL. */
const INJECTION = "x\\', (SELECT password_hash FROM users LIMIT 1)) -- ";
const HOSTILE = `${INJECTION}| NUL:\u0000 | \\0 \\n \\\\ | 'single' "double" \`back\` | é 中文 😀 \u2028 | \\u0000 ; --`;
const CACHE_KEY = "key'\\\"é";

const JOBS = `
const HOSTILE = ${JSON.stringify(HOSTILE)};
export const result = { execute() { return HOSTILE; } };
export const failure = { execute() { throw new Error(HOSTILE); } };
export const cached = {
  async execute(ctx) {
    await ctx.cache.set(${JSON.stringify(CACHE_KEY)}, { text: HOSTILE, params: ctx.params });
    return JSON.stringify(await ctx.cache.get(${JSON.stringify(CACHE_KEY)}));
  },
};
`;

interface Target {
  name: string;
  skip: string | undefined;
  make(): Promise<MadeDatabase>;
}

/** The suite's databases, and a private MariaDB server whose sessions start with NO_BACKSLASH_ESCAPES. */
function targets(): Target[] {
  return [
    ...testDatabases(),
    {
      name: 'MariaDB with NO_BACKSLASH_ESCAPES',
      skip: privateMariadbSkipReason(),
      async make() {
        const server = await PrivateMariadb.create({ serverOptions: ['--sql-mode=NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES'] });
        return { db: { dialect: 'mysql', url: server.url }, drop: () => server.destroy() };
      },
    },
  ];
}

/** Each built sample's project name and its job names, as dist/samples holds them. */
async function samples(): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const file of (await readdir(SAMPLES)).filter((f) => f.endsWith('.jobs.json'))) {
    const specs = JSON.parse(await readFile(path.join(SAMPLES, file), 'utf8')) as { name: string }[];
    out.set(file.slice(0, -'.jobs.json'.length), specs.map((s) => s.name).sort());
  }
  return out;
}

/** Closes every connection to the server but the one asking: the host's pool must open new ones. */
async function dropConnections(db: HostConfig['db']): Promise<number> {
  if (db.dialect !== 'mysql') return 0;
  const connection = await mysql.createConnection(db.url);
  try {
    const [rows] = await connection.query('SELECT id FROM information_schema.PROCESSLIST WHERE id <> CONNECTION_ID() AND db = DATABASE()');
    for (const { id } of rows as { id: number }[]) await connection.query(`KILL CONNECTION ${Number(id)}`).catch(() => undefined);
    return (rows as unknown[]).length;
  } finally {
    await connection.end();
  }
}

for (const target of targets()) {
  describe(`literals on ${target.name}`, { skip: target.skip }, () => {
    let made: MadeDatabase;
    let th: TestHost;
    let projectId: number;
    const ids = new Map<string, number>();

    before(async () => {
      made = await target.make();
      th = await startHost({ db: made.db, options: { seedSamples: true } });
    });

    after(async () => {
      await th?.stop();
      await made?.drop();
    });

    async function finished(jobId: number, body?: unknown): Promise<ContractRun> {
      const trigger = await th.api.post(`/api/v1/jobs/${jobId}/trigger`, body);
      assert.equal(trigger.status, 202, trigger.text);
      const run = await eventually(`run ${trigger.body.runId} to end`, async () => {
        const res = await th.api.get<ContractRun>(`/api/v1/runs/${trigger.body.runId}`);
        return ['QUEUED', 'RUNNING'].includes(res.body.status) ? undefined : res.body;
      });
      return checkRunContract(run);
    }

    test('the samples are seeded with their jobs, and the events of starting them are recorded', async () => {
      const projects = new Map<string, number>((await th.api.get('/api/v1/projects')).body.items.map((p: { name: string; id: number }) => [p.name, p.id]));
      for (const [sample, jobNames] of await samples()) {
        assert.ok(projects.has(sample), `sample project ${sample}`);
        const jobs = (await th.api.get(`/api/v1/jobs?projectId=${projects.get(sample)}`)).body.items as { id: number; name: string; state: string }[];
        assert.deepEqual(jobs.map((j) => j.name).sort(), jobNames, `the jobs of ${sample}`);
        for (const job of jobs.filter((j) => j.state === 'ACTIVE')) {
          const events = (await th.api.get(`/api/v1/events?jobId=${job.id}`)).body as { action: string; details: unknown }[];
          assert.ok(
            events.some((e) => e.action === 'started' && JSON.stringify(e.details) === '{"state":"ACTIVE"}'),
            `a started event with its details for ${job.name}: ${JSON.stringify(events)}`,
          );
        }
      }
    });

    test('a job with params holding quotes, backslashes, NUL and non-ASCII is stored and read back verbatim', async () => {
      projectId = (await th.api.post('/api/v1/projects', { name: 'literals', description: HOSTILE })).body.id;
      assert.equal((await th.api.get(`/api/v1/projects/${projectId}`)).body.description, HOSTILE);
      assert.equal((await th.api.upload(projectId, await threadBundle(JOBS))).status, 201);
      for (const entry of ['result', 'failure', 'cached']) {
        const res = await th.api.post('/api/v1/jobs', { projectId, name: entry, kind: 'thread', entry, params: { text: HOSTILE }, schedule: { type: 'MANUAL' } });
        assert.equal(res.status, 201, res.text);
        ids.set(entry, res.body.id);
        assert.deepEqual((await th.api.get(`/api/v1/jobs/${res.body.id}`)).body.params, { text: HOSTILE });
      }
      const patched = await th.api.patch(`/api/v1/jobs/${ids.get('cached')}`, { params: { text: HOSTILE, again: [HOSTILE] } });
      assert.equal(patched.status, 200, patched.text);
      const events = (await th.api.get(`/api/v1/events?jobId=${ids.get('cached')}`)).body as { action: string; details: unknown }[];
      assert.deepEqual(events.find((e) => e.action === 'updated')?.details, { before: { params: { text: HOSTILE } }, after: { params: { text: HOSTILE, again: [HOSTILE] } } });
    });

    test('a hostile result, error and cached value are stored verbatim, and stay so on connections opened later', async () => {
      const check = async (): Promise<void> => {
        const ok = await finished(ids.get('result')!);
        assert.equal(ok.status, 'SUCCEEDED');
        assert.equal(ok.result, HOSTILE);
        const failed = await finished(ids.get('failure')!);
        assert.equal(failed.status, 'FAILED');
        assert.equal(failed.error?.message, HOSTILE);
        const cached = await finished(ids.get('cached')!);
        assert.equal(cached.status, 'SUCCEEDED', JSON.stringify(cached.error));
        assert.deepEqual(JSON.parse(cached.result!), { text: HOSTILE, params: { text: HOSTILE, again: [HOSTILE] } });
        const listed = (await th.api.get<{ items: ContractRun[] }>(`/api/v1/runs?jobId=${ids.get('result')}&limit=1`)).body.items;
        assert.equal(listed[0]?.result, HOSTILE);
      };
      await check();
      // Reconnects: the pool's new connections must get the same session settings as its first ones.
      if ((await dropConnections(made.db)) > 0) {
        await sleep(500);
        await check();
      }
    });
  });
}
