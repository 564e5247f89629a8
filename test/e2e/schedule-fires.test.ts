/**
 * A job's next fire times (GET /jobs/:id/fires) and a preview of a schedule not saved yet (POST /schedules/preview),
 * over REST: the window is kept, a stopped job shows what it would fire if started now, the preview is validated as
 * a job's schedule is, and the fires shown for a running job are the fire times its runs then get.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, startHost, type Reply, type TestHost } from '../helpers/host.js';
import { finishedRun } from '../helpers/runs.js';
import { threadBundle } from '../helpers/zip.js';

interface Fires {
  timezone: string;
  fires: string[];
}

const HOST_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

function refusedNaming(res: Reply, field: string): void {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.error?.details?.field, field, res.text);
}

/** The next whole hour, at least ten minutes away: a window there is all in the future while the test runs. */
function comingHour(): Date {
  const at = new Date(Date.now() + 10 * 60_000);
  at.setUTCMinutes(0, 0, 0);
  return new Date(at.getTime() + 3_600_000);
}

describe('next fire times and schedule previews', () => {
  let th: TestHost;
  let projectId: number;

  before(async () => {
    th = await startHost({ options: { seedSamples: false } });
    projectId = (await th.api.post('/api/v1/projects', { name: 'fires' })).body.id;
    assert.equal((await th.api.upload(projectId, await threadBundle("export const ok = { execute() { return 'ok'; } };\n"))).status, 201);
  });

  after(async () => {
    await th?.stop();
  });

  async function job(name: string, schedule: Record<string, unknown>, start = false): Promise<{ id: number; nextFireAt: string | null }> {
    const res = await th.api.post('/api/v1/jobs', { projectId, name, kind: 'thread', entry: 'ok', schedule, start });
    assert.equal(res.status, 201, res.text);
    return res.body;
  }

  async function firesOf(id: number, query = ''): Promise<Fires> {
    const res = await th.api.get<Fires>(`/api/v1/jobs/${id}/fires${query}`);
    assert.equal(res.status, 200, res.text);
    return res.body;
  }

  test('a stopped INTERVAL job shows the fires it would have if started now: every everyMs from now', async () => {
    const { id } = await job('every-minute', { type: 'INTERVAL', everyMs: 60_000 });
    const before = Date.now();
    const { timezone, fires } = await firesOf(id, '?count=3');
    const after = Date.now();
    assert.equal(timezone, HOST_ZONE);
    assert.equal(fires.length, 3);
    const first = Date.parse(fires[0]!);
    assert.ok(first >= before + 60_000 && first <= after + 60_000, `${fires[0]} is one interval from now`);
    assert.deepEqual(fires.map((f) => Date.parse(f) - first), [0, 60_000, 120_000]);
    assert.equal((await firesOf(id)).fires.length, 10, 'count defaults to 10');
  });

  test('a started CRON job shows its next fire first, in its time zone, and MANUAL jobs have none', async () => {
    const started = await job('tokyo-noon', { type: 'CRON', cron: '0 0 12 * * *', timezone: 'Asia/Tokyo' }, true);
    const { timezone, fires } = await firesOf(started.id, '?count=4');
    assert.equal(timezone, 'Asia/Tokyo');
    assert.equal(fires[0], started.nextFireAt);
    for (const [i, fire] of fires.entries()) {
      assert.match(fire, /T03:00:00\.000Z$/, 'noon in Tokyo is 03:00 UTC');
      if (i > 0) assert.equal(Date.parse(fire) - Date.parse(fires[i - 1]!), 86_400_000);
    }
    const manual = await job('by-hand', { type: 'MANUAL' });
    assert.deepEqual(await firesOf(manual.id), { timezone: HOST_ZONE, fires: [] });
  });

  test('the window is kept: nothing before startAt, the fire at endAt is the last, and a PENDING job shows the same', async () => {
    const startAt = comingHour();
    const endAt = new Date(startAt.getTime() + 3 * 60_000);
    const schedule = { type: 'CRON', cron: '0 * * * * *', startAt: startAt.toISOString(), endAt: endAt.toISOString() };
    const expected = [0, 1, 2, 3].map((m) => new Date(startAt.getTime() + m * 60_000).toISOString());
    const { id } = await job('windowed', schedule);
    assert.deepEqual((await firesOf(id)).fires, expected);
    const started = await th.api.post(`/api/v1/jobs/${id}/start`);
    assert.equal(started.body.state, 'PENDING', started.text);
    assert.deepEqual((await firesOf(id)).fires, expected);
    const preview = await th.api.post<Fires>('/api/v1/schedules/preview', { schedule });
    assert.equal(preview.status, 200, preview.text);
    assert.deepEqual(preview.body.fires, expected);
    const beside = await th.api.post<Fires>('/api/v1/schedules/preview', {
      schedule: { type: 'CRON', cron: '0 * * * * *' },
      startAt: schedule.startAt,
      endAt: schedule.endAt,
      count: 2,
    });
    assert.deepEqual(beside.body, { timezone: HOST_ZONE, fires: expected.slice(0, 2) });
    const ended = await th.api.post<Fires>('/api/v1/schedules/preview', { schedule: { type: 'INTERVAL', everyMs: 1000, endAt: '2020-01-01T00:00:00Z' } });
    assert.deepEqual(ended.body.fires, []);
  });

  test('a preview is validated as a job schedule is, and a bad count is refused, each naming the field', async () => {
    const preview = (body: unknown): Promise<Reply> => th.api.post('/api/v1/schedules/preview', body);
    refusedNaming(await preview({}), 'schedule');
    refusedNaming(await preview({ schedule: { type: 'HOURLY' } }), 'schedule.type');
    refusedNaming(await preview({ schedule: { type: 'CRON', cron: '0 0 30 2 *' } }), 'schedule.cron');
    refusedNaming(await preview({ schedule: { type: 'CRON', cron: '* * * * *', timezone: 'Mars/Olympus' } }), 'schedule.timezone');
    refusedNaming(await preview({ schedule: { type: 'INTERVAL', everyMs: 10 } }), 'schedule.everyMs');
    refusedNaming(await preview({ schedule: { type: 'INTERVAL', everyMs: 1000, every: 1 } }), 'schedule.every');
    refusedNaming(await preview({ schedule: { type: 'MANUAL' }, startAt: 'tomorrow' }), 'startAt');
    refusedNaming(await preview({ schedule: { type: 'MANUAL' }, startAt: '2030-01-02T00:00:00Z', endAt: '2030-01-01T00:00:00Z' }), 'endAt');
    refusedNaming(await preview({ schedule: { type: 'MANUAL', startAt: '2030-01-01T00:00:00Z' }, startAt: '2030-01-01T00:00:00Z' }), 'startAt');
    refusedNaming(await preview({ schedule: { type: 'MANUAL' }, when: 'now' }), 'when');
    for (const count of [0, 101, 1.5, 'ten']) refusedNaming(await preview({ schedule: { type: 'INTERVAL', everyMs: 1000 }, count }), 'count');
    const { id } = await job('counted', { type: 'INTERVAL', everyMs: 5000 });
    for (const count of ['0', '101', 'ten', '']) refusedNaming(await th.api.get(`/api/v1/jobs/${id}/fires?count=${count}`), 'count');
    assert.equal((await th.api.get('/api/v1/jobs/999999/fires')).status, 404);
    // The same schedule is refused at job creation with the same field.
    refusedNaming(await th.api.post('/api/v1/jobs', { projectId, name: 'never', kind: 'thread', entry: 'ok', schedule: { type: 'CRON', cron: '0 0 30 2 *' } }), 'schedule.cron');
  });

  test('the fires shown for a running job are the fire times its next runs get', async () => {
    const { id } = await job('every-second', { type: 'CRON', cron: '* * * * * *' }, true);
    const { fires } = await firesOf(id, '?count=3');
    const [first, last] = [Date.parse(fires[0]!), Date.parse(fires[2]!)];
    const due = await eventually('runs for the three fires shown', async () => {
      const res = await th.api.get<{ items: { runId: string; scheduledAt: string }[] }>(`/api/v1/runs?jobId=${id}&limit=100`);
      const inRange = res.body.items.filter((r) => Date.parse(r.scheduledAt) >= first && Date.parse(r.scheduledAt) <= last);
      return inRange.length >= 3 ? inRange : undefined;
    });
    for (const run of due) await finishedRun(th.api, run.runId);
    const runs = due.map((r) => r.scheduledAt).sort();
    await th.api.post(`/api/v1/jobs/${id}/stop`);
    assert.deepEqual(runs, fires);
  });
});
