/**
 * Editing a job (PATCH /api/v1/jobs/:id) over HTTP against a real host on SQLite and MySQL/MariaDB: every field a
 * job is created with can be changed, on a stopped job and on one on the schedule; an ACTIVE job moves to its new
 * schedule without losing or doubling a fire; a bad value is a 400 naming the field that changes nothing; the job's
 * events say who changed what, before and after; and editing needs the same rights as the other job writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../helpers/db.js';
import { Api, eventually, type Reply, type TestHost } from '../helpers/host.js';
import { settledRuns, startProjectHost, type ProjectHost } from '../helpers/project-host.js';
import { finishedRun, listRuns } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

const CODE = `
export const quick = { execute() { return 'quick'; } };
export const echo = { execute(ctx) { return JSON.stringify({ name: ctx.job.name, params: ctx.params, extra: ctx.config.extra, base: ctx.config.base }); } };
`;
const CONFIG = { 'config/app.properties': 'base=from-file\n', 'config/app-dev.properties': 'base=from-dev\n' };

interface JobEvent {
  action: string;
  actor: string;
  details: { before?: Record<string, unknown>; after?: Record<string, unknown> } | null;
}

/** The answer is `status`, and names `field` in its details (or, for 409/422, in its message). */
function assertRefused(res: Reply, status: number, field: string): void {
  assert.equal(res.status, status, res.text.slice(0, 300));
  const error = res.body?.error as { code: string; message: string; details?: { field?: string } } | undefined;
  assert.ok(error?.code && error.message, res.text.slice(0, 300));
  assert.ok(error.details?.field === field || error.message.includes(field), `the answer names ${field}: ${res.text.slice(0, 300)}`);
}

/** Gaps between consecutive fire times, in ms. */
function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

for (const database of testDatabases()) {
  describe(`editing jobs on ${database.name}`, { skip: database.skip }, () => {
    let suite: ProjectHost;
    let th: TestHost;
    let projectId: number;

    async function createJob(body: Record<string, unknown>, api: Api = th.api, project = projectId): Promise<Record<string, any>> {
      const res = await api.post('/api/v1/jobs', { projectId: project, kind: 'thread', entry: 'quick', schedule: { type: 'MANUAL' }, ...body });
      assert.equal(res.status, 201, res.text);
      return res.body;
    }

    const getJob = async (id: number): Promise<Record<string, any>> => {
      const res = await th.api.get(`/api/v1/jobs/${id}`);
      assert.equal(res.status, 200, res.text);
      // What a job's runs say (runCounts, lastRun) is read with it, not part of what an edit changes.
      const { runCounts: _counts, lastRun: _last, ...job } = res.body;
      return job;
    };
    const eventsOf = async (id: number): Promise<JobEvent[]> => (await th.api.get(`/api/v1/events?jobId=${id}`)).body;
    const updatesOf = async (id: number): Promise<JobEvent[]> => (await eventsOf(id)).filter((e) => e.action === 'updated');

    /**
     * Waits until `count` runs of the job scheduled after `sinceMs` have started. A QUEUED row is not counted: it may be
     * one written ahead of its fire time, which a change or a stop can still call off.
     */
    async function firesAfter(id: number, sinceMs: number, count: number): Promise<void> {
      await eventually(`${count} fires of job ${id} after ${new Date(sinceMs).toISOString()}`, async () => {
        const runs = await listRuns(th.api, `jobId=${id}&limit=500`);
        return runs.filter((r) => r.status !== 'QUEUED' && Date.parse(r.scheduledAt) > sinceMs).length >= count ? true : undefined;
      }, 20_000);
    }

    before(async () => {
      suite = await startProjectHost(database, 'edits', await threadBundle(CODE, CONFIG));
      ({ th, projectId } = suite);
    });

    after(async () => {
      await suite?.stop();
    });

    test('every field a job is created with can be changed, {} changes nothing, and the event holds before and after of the changed fields', async () => {
      const job = await createJob({ name: 'edit-me' });
      const empty = await th.api.patch(`/api/v1/jobs/${job.id}`, {});
      assert.equal(empty.status, 200, empty.text);
      assert.deepEqual(empty.body, job, '{} is a no-op');
      assert.deepEqual(await getJob(job.id), job);
      assert.deepEqual(await updatesOf(job.id), [], 'nothing changed, nothing recorded');

      const change = {
        name: 'edited',
        entry: 'echo',
        params: { n: 2, list: ['a'] },
        configFile: 'app.properties',
        profile: 'dev',
        config: { extra: 'x' },
        schedule: { type: 'INTERVAL', everyMs: 60_000 },
        concurrency: 'SKIP',
        maxQueue: 7,
        timeoutMs: 30_000,
        memoryLimitMb: 256,
        misfire: 'skip',
        onInterrupt: 'rerun',
        grants: { fetch: ['example.com'] },
        retries: { count: 2, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 400 } },
      };
      const patched = await th.api.patch(`/api/v1/jobs/${job.id}`, change);
      assert.equal(patched.status, 200, patched.text);
      const stored = await getJob(job.id);
      assert.deepEqual(patched.body, stored, 'the answer is the job as stored');
      for (const [key, value] of Object.entries(change)) assert.deepEqual(stored[key], value, key);
      assert.equal(stored.state, 'STOPPED', 'editing does not start a job');

      const [event, ...others] = await updatesOf(job.id);
      assert.equal(others.length, 0);
      assert.equal(event!.actor, 'admin');
      assert.deepEqual(event!.details?.after, change);
      assert.deepEqual(Object.keys(event!.details?.before ?? {}).sort(), Object.keys(change).sort(), 'only the changed fields');
      for (const key of Object.keys(change)) assert.deepEqual(event!.details!.before![key], job[key] ?? null, `before.${key}`);

      // A run uses the definition as edited.
      const trigger = await th.api.post(`/api/v1/jobs/${job.id}/trigger`);
      assert.equal(trigger.status, 202, trigger.text);
      const run = await finishedRun(th.api, trigger.body.runId);
      assert.equal(run.status, 'SUCCEEDED', run.error?.message);
      const result = JSON.parse(run.result!);
      assert.deepEqual({ name: result.name, params: result.params, extra: result.extra }, { name: 'edited', params: change.params, extra: 'x' });
      assert.match(result.base, /^from-/, 'the config file is read');

      // The same values again (keys in another order) change nothing; one field changes only itself.
      const again = await th.api.patch(`/api/v1/jobs/${job.id}`, { retries: { backoff: { maxDelayMs: 400, delayMs: 100, type: 'exponential' }, count: 2 }, name: 'edited' });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body, stored);
      assert.equal((await updatesOf(job.id)).length, 1);
      const kind = await th.api.patch(`/api/v1/jobs/${job.id}`, { kind: 'exec', entry: ['echo', 'hi'], shell: true, params: null });
      assert.equal(kind.status, 200, kind.text);
      assert.deepEqual([kind.body.kind, kind.body.entry, kind.body.shell, kind.body.params], ['exec', ['echo', 'hi'], true, null]);
      const [latest] = await updatesOf(job.id);
      assert.deepEqual(latest!.details, {
        before: { kind: 'thread', entry: 'echo', shell: false, params: change.params },
        after: { kind: 'exec', entry: ['echo', 'hi'], shell: true, params: null },
      });
    });

    test('a bad value answers 400 naming the field and changes nothing, on an active job too', async () => {
      const other = await createJob({ name: 'taken-name' });
      const job = await createJob({ name: 'guarded', schedule: { type: 'INTERVAL', everyMs: 3_600_000 }, start: true });
      assert.equal(job.state, 'ACTIVE');
      const otherProject = await th.api.post('/api/v1/projects', { name: 'elsewhere' });
      assert.equal(otherProject.status, 201, otherProject.text);
      const before = await getJob(job.id);
      const eventCount = (await eventsOf(job.id)).length;
      const bad: [Record<string, unknown>, number, string][] = [
        [{ name: '' }, 400, 'name'],
        [{ name: 'a/b' }, 400, 'name'],
        [{ kind: 'fortran' }, 400, 'kind'],
        [{ entry: 5 }, 400, 'entry'],
        [{ kind: 'exec' }, 400, 'entry'],
        [{ schedule: { type: 'INTERVAL', everyMs: 5 } }, 400, 'schedule.everyMs'],
        [{ schedule: { type: 'CRON', cron: 'every day' } }, 400, 'schedule.cron'],
        [{ schedule: { type: 'INTERVAL', everyMs: 1_000, startAt: 'tomorrow' } }, 400, 'schedule.startAt'],
        [{ schedule: null }, 400, 'schedule'],
        [{ concurrency: 'SOMETIMES' }, 400, 'concurrency'],
        [{ maxQueue: 0 }, 400, 'maxQueue'],
        [{ timeoutMs: 'soon', name: 'renamed-too' }, 400, 'timeoutMs'],
        [{ memoryLimitMb: 1 }, 400, 'memoryLimitMb'],
        [{ misfire: 'never' }, 400, 'misfire'],
        [{ onInterrupt: 'again' }, 400, 'onInterrupt'],
        [{ shell: 'yes' }, 400, 'shell'],
        [{ grants: { disk: true } }, 400, 'grants.disk'],
        [{ retries: { count: 101 } }, 400, 'retries.count'],
        [{ params: 'x'.repeat(70_000) }, 400, 'params'],
        [{ config: { k: 5 } }, 400, 'config.k'],
        [{ configFile: '../secrets' }, 400, 'configFile'],
        [{ profile: 'a b' }, 400, 'profile'],
        [{ projectId: otherProject.body.id }, 400, 'projectId'],
        [{ state: 'STOPPED' }, 400, 'state'],
        [{ id: 1 }, 400, 'id'],
        [{ start: true }, 400, 'start'],
        [{ entry: 'missing' }, 422, 'entry'],
        [{ name: other.name }, 409, other.name],
      ];
      for (const [body, status, field] of bad) {
        assertRefused(await th.api.patch(`/api/v1/jobs/${job.id}`, body), status, field);
        assert.deepEqual(await getJob(job.id), before, `nothing changed after ${JSON.stringify(body).slice(0, 80)}`);
      }
      assertRefused(await th.api.request('PATCH', `/api/v1/jobs/${job.id}`, '[1]'), 400, 'request body');
      assert.equal((await eventsOf(job.id)).length, eventCount, 'no event for a refused change');
      assert.equal((await th.api.post(`/api/v1/jobs/${job.id}/stop`)).status, 200);
    });

    test('a developer edits the jobs of their own project; another developer does not see them and a viewer is refused 403', async () => {
      for (const [username, role] of [['dora', 'developer'], ['dan', 'developer'], ['vic', 'viewer']]) {
        const res = await th.api.post('/api/v1/users', { username, password: `${username}-password`, role });
        assert.equal(res.status, 201, res.text);
      }
      const dora = await Api.login(th.url, 'dora', 'dora-password');
      const dan = await Api.login(th.url, 'dan', 'dan-password');
      const vic = await Api.login(th.url, 'vic', 'vic-password');
      const project = await dora.post('/api/v1/projects', { name: 'doras' });
      assert.equal(project.status, 201, project.text);
      assert.equal((await th.api.patch(`/api/v1/projects/${project.body.id}`, { trusted: true })).status, 200);
      assert.equal((await dora.upload(project.body.id, await threadBundle(CODE, CONFIG))).status, 201);
      const job = await createJob({ name: 'doras-job' }, dora, project.body.id);

      const own = await dora.patch(`/api/v1/jobs/${job.id}`, { params: { by: 'dora' } });
      assert.equal(own.status, 200, own.text);
      const before = await getJob(job.id);
      assertRefused(await vic.patch(`/api/v1/jobs/${job.id}`, { params: { by: 'vic' } }), 403, 'viewers');
      assert.equal((await dan.patch(`/api/v1/jobs/${job.id}`, { params: { by: 'dan' } })).status, 404, 'not visible to another developer');
      assert.equal((await vic.patch(`/api/v1/jobs/${job.id}`, { name: 'x/y' })).status, 403, 'rights are checked before the body');
      assert.deepEqual(await getJob(job.id), before);
      const [event] = await updatesOf(job.id);
      assert.equal(event!.actor, 'dora');
      assert.deepEqual(event!.details, { before: { params: null }, after: { params: { by: 'dora' } } });
    });

    test('an active interval job moves to a longer interval and then to a cron schedule without losing or doubling a fire', async () => {
      const job = await createJob({ name: 'moving', schedule: { type: 'INTERVAL', everyMs: 1_000 }, start: true });
      await firesAfter(job.id, 0, 3);

      const firstChange = Date.now();
      const longer = await th.api.patch(`/api/v1/jobs/${job.id}`, { schedule: { type: 'INTERVAL', everyMs: 2_000 } });
      assert.equal(longer.status, 200, longer.text);
      assert.equal(longer.body.state, 'ACTIVE');
      // Fires up to the lead time ahead (500 ms) were handed over for the old schedule; later ones are the new one's.
      const newFrom = firstChange + 600;
      await firesAfter(job.id, newFrom, 3);

      const secondChange = Date.now();
      const cron = await th.api.patch(`/api/v1/jobs/${job.id}`, { schedule: { type: 'CRON', cron: '*/2 * * * * *' } });
      assert.equal(cron.status, 200, cron.text);
      const cronFrom = secondChange + 600;
      await firesAfter(job.id, cronFrom, 2);
      assert.equal((await th.api.post(`/api/v1/jobs/${job.id}/stop`)).status, 200);

      const runs = await settledRuns(th, job.id);
      for (const run of runs) assert.equal(run.status, 'SUCCEEDED', `${run.scheduledAt}: ${run.error?.message}`);
      const times = runs.map((r) => Date.parse(r.scheduledAt));
      const shown = runs.map((r) => r.scheduledAt).join(', ');
      assert.equal(new Set(times).size, times.length, `no fire time ran twice: ${shown}`);
      // The interval keeps its anchor's phase (x.995 s, say) and the cron fires on even seconds: where the schedules
      // meet, the gap is up to 2 s plus that phase (seen: 2,005 ms). A lost fire would leave 4 s.
      for (const gap of gaps(times)) {
        assert.ok(gap > 0 && gap < 3_000, `no gap longer than the longer schedule allows (2 s, and under 1 s of phase): ${gap} ms in ${shown}`);
      }
      const old = times.filter((t) => t <= firstChange);
      assert.ok(gaps(old).every((g) => g === 1_000), `every second before the change: ${shown}`);
      const interval = times.filter((t) => t <= secondChange);
      const moved = interval.findIndex((t) => t > newFrom);
      assert.ok(moved > 0, shown);
      assert.ok(gaps(interval.slice(moved - 1)).every((g) => g === 2_000), `every 2 s from the last fire of the old schedule: ${shown}`);
      const cronFires = times.filter((t) => t > cronFrom);
      assert.ok(cronFires.length >= 2 && cronFires.every((t) => t % 2_000 === 0), `on even seconds after the cron change: ${shown}`);

      const updates = await updatesOf(job.id);
      assert.deepEqual(updates.map((e) => e.details?.after), [{ schedule: { type: 'CRON', cron: '*/2 * * * * *' } }, { schedule: { type: 'INTERVAL', everyMs: 2_000 } }]);
      assert.deepEqual(updates[1]!.details?.before, { schedule: { type: 'INTERVAL', everyMs: 1_000 } });
    });

    test('an active job given a future startAt waits for it as PENDING, and one made MANUAL stops', async () => {
      const job = await createJob({ name: 'rewindowed', schedule: { type: 'INTERVAL', everyMs: 1_000 }, start: true });
      await firesAfter(job.id, 0, 1);
      const startAt = Math.ceil((Date.now() + 2_500) / 1000) * 1000;
      const changeAt = Date.now();
      const schedule = { type: 'INTERVAL', everyMs: 1_000, startAt: new Date(startAt).toISOString() };
      const pending = await th.api.patch(`/api/v1/jobs/${job.id}`, { schedule });
      assert.equal(pending.status, 200, pending.text);
      assert.equal(pending.body.state, 'PENDING');
      assert.equal(pending.body.nextFireAt, new Date(startAt).toISOString());
      const [event] = await updatesOf(job.id);
      assert.deepEqual(event!.details?.before, { schedule: { type: 'INTERVAL', everyMs: 1_000 }, state: 'ACTIVE' });
      assert.deepEqual(event!.details?.after, { schedule, state: 'PENDING' });
      await firesAfter(job.id, startAt - 1, 1);
      await eventually('the job to be ACTIVE', async () => ((await getJob(job.id)).state === 'ACTIVE' ? true : undefined));

      const manualAt = Date.now();
      const manual = await th.api.patch(`/api/v1/jobs/${job.id}`, { schedule: { type: 'MANUAL' } });
      assert.equal(manual.status, 200, manual.text);
      assert.equal(manual.body.state, 'STOPPED');
      assert.equal(manual.body.nextFireAt, null);
      const runs = await settledRuns(th, job.id);
      const times = runs.map((r) => Date.parse(r.scheduledAt));
      const shown = runs.map((r) => r.scheduledAt).join(', ');
      assert.ok(!times.some((t) => t > changeAt + 500 && t < startAt), `nothing ran between the change and startAt: ${shown}`);
      assert.ok(times.includes(startAt), `it ran at startAt: ${shown}`);
      assert.ok(!times.some((t) => t > manualAt + 500), `nothing ran after it was made MANUAL: ${shown}`);
      assert.equal(new Set(times).size, times.length, shown);
    });
  });
}
