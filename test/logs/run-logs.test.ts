import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../host/log/logger.js';
import { createRunLogStore, type LogIndex } from '../../host/blob/run-logs.js';
import { activeTimers, listFiles, openFdCount, tempDir } from './helpers.js';

const startedAt = new Date('2026-11-22T10:00:00.000Z');

describe('run log store', () => {
  test('a run that logs nothing returns a null index and creates no file', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1024 * 1024, logger: silentLogger });
    for (let i = 0; i < 50; i++) {
      const w = store.open(randomUUID(), startedAt);
      assert.equal(await w.end(), null);
    }
    await store.close();
    assert.deepEqual(await listFiles(dir), []);
  });

  test('a thousand runs with a few lines each share one day file and each reads back exactly', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1024 * 1024, logger: silentLogger });
    const expected = new Map<string, { index: LogIndex; text: string }>();
    for (let i = 0; i < 1000; i++) {
      const runId = randomUUID();
      const w = store.open(runId, startedAt);
      const lines: string[] = [];
      for (let k = 0; k < 3; k++) {
        const at = new Date(startedAt.getTime() + i * 1000 + k);
        w.write('info', `run ${i} line ${k} ünïcode`, at);
        lines.push(`${at.toISOString()} INFO [${runId}] run ${i} line ${k} ünïcode`);
      }
      const index = await w.end();
      assert.ok(index);
      expected.set(runId, { index, text: lines.join('\n') + '\n' });
    }
    await store.close();
    assert.deepEqual(await listFiles(dir), ['runs/2026-11/22/runs-1.log']);
    for (const { index, text } of expected.values()) assert.equal(await store.read(index), text);
  });

  test('concurrent ends of many runs keep every chunk contiguous', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1024 * 1024, logger: silentLogger });
    const runs = Array.from({ length: 300 }, (_, i) => ({ runId: randomUUID(), i }));
    const writers = runs.map(({ runId, i }) => {
      const w = store.open(runId, startedAt);
      for (let k = 0; k < 5; k++) w.write('debug', `r${i}:${k}:${'x'.repeat(i % 50)}`);
      return w;
    });
    const indexes = await Promise.all(writers.map((w) => w.end()));
    await store.close();
    const seen = new Set<number>();
    for (let n = 0; n < runs.length; n++) {
      const index = indexes[n] as LogIndex;
      assert.ok(!seen.has(index.offset), 'two runs got the same offset');
      seen.add(index.offset);
      const lines = (await store.read(index)).trimEnd().split('\n');
      assert.equal(lines.length, 5);
      lines.forEach((line, k) => assert.match(line, new RegExp(`DEBUG \\[${runs[n].runId}\\] r${n}:${k}:x*$`)));
    }
  });

  test('a day file that passes the roll size is followed by the next number', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 4096, rollAfterBytes: 1000, logger: silentLogger });
    const indexes: LogIndex[] = [];
    for (let i = 0; i < 30; i++) {
      const w = store.open(randomUUID(), startedAt);
      w.write('info', `line ${i} ${'y'.repeat(100)}`);
      indexes.push((await w.end()) as LogIndex);
    }
    await store.close();
    const files = await listFiles(dir);
    assert.ok(files.length >= 3 && files.length <= 6, `files: ${files.join(', ')}`);
    for (const [i, index] of indexes.entries()) assert.match(await store.read(index), new RegExp(`line ${i} y+\\n$`));
  });

  test('the month and day folders come from the run start in UTC', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 4096, logger: silentLogger });
    const w = store.open(randomUUID(), new Date('2026-12-31T23:59:59.999Z'));
    w.write('info', 'late', new Date('2027-01-01T00:00:01.000Z'));
    const index = await w.end();
    await store.close();
    assert.equal(index?.file, 'runs/2026-12/31/runs-1.log');
  });

  test('the cap keeps the head and the tail and marks the cut', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 2000, logger: silentLogger });
    const runId = randomUUID();
    const w = store.open(runId, startedAt);
    for (let i = 0; i < 500; i++) w.write('info', `line ${String(i).padStart(3, '0')}`, startedAt);
    const index = (await w.end()) as LogIndex;
    await store.close();
    const text = await store.read(index);
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0], /line 000$/);
    assert.match(lines[lines.length - 1], /line 499$/);
    const marker = lines.findIndex((l) => l.startsWith('… ['));
    assert.ok(marker > 0, 'no cut marker');
    const m = /^… \[(\d+) bytes \/ (\d+) lines cut\] …$/.exec(lines[marker]);
    assert.ok(m, lines[marker]);
    const kept = lines.length - 1;
    assert.equal(kept + Number(m[2]), 500);
    assert.ok(Buffer.byteLength(text) <= 2000 + lines[marker].length + 2, `size ${Buffer.byteLength(text)}`);
    assert.match(lines[marker - 1], /line \d{3}$/);
    const before = Number(/line (\d+)$/.exec(lines[marker - 1])?.[1]);
    const after = Number(/line (\d+)$/.exec(lines[marker + 1])?.[1]);
    assert.equal(after - before - 1, Number(m[2]));
  });

  test('one line longer than the cap is clipped instead of pushing out everything else', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1000, logger: silentLogger });
    const runId = randomUUID();
    const w = store.open(runId, startedAt);
    w.write('info', 'first');
    w.write('error', 'z'.repeat(100_000));
    const clipped = store.live(runId)?.text ?? '';
    w.write('info', 'last');
    const text = await store.read((await w.end()) as LogIndex);
    await store.close();
    assert.match(clipped, /ERROR \[.*\] z+ … \[\+\d+ bytes\]\n$/);
    assert.ok(Buffer.byteLength(clipped) < 1000, `size ${Buffer.byteLength(clipped)}`);
    assert.ok(Buffer.byteLength(text) < 1000, `size ${Buffer.byteLength(text)}`);
    assert.match(text, /first\n/);
    const cut = /… \[(\d+) bytes \/ 1 lines cut\] …/.exec(text);
    assert.ok(cut && Number(cut[1]) > 100_000, text);
    assert.match(text, /last\n$/);
  });

  test('an invalid run id is refused, path tricks included', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1000, logger: silentLogger });
    for (const bad of ['../../etc/passwd', '', 'abc', `${randomUUID()}/../x`, `../${randomUUID()}`]) {
      assert.throws(() => store.open(bad, startedAt), (err: { code?: string }) => err.code === 'BAD_REQUEST');
      assert.equal(store.live(bad), null);
    }
    await assert.rejects(store.read({ file: '../../etc/passwd', offset: 0, length: 10 }), { code: 'BAD_REQUEST' });
    await assert.rejects(store.read({ file: 'runs/2026-11/22/../../../x.log', offset: 0, length: 1 }));
    await store.close();
    assert.deepEqual(await listFiles(dir), []);
  });

  test('opening the same run twice while it is running is a conflict', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1000, logger: silentLogger });
    const runId = randomUUID();
    const w = store.open(runId, startedAt);
    assert.throws(() => store.open(runId.toUpperCase(), startedAt), { code: 'CONFLICT' });
    await w.end();
    await store.close();
  });

  test('write never throws, ignores lines after end and end is idempotent', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1000, logger: silentLogger });
    const w = store.open(randomUUID(), startedAt);
    w.write('info', { toString: () => 'object message' } as unknown as string, new Date(NaN));
    const [a, b] = await Promise.all([w.end(), w.end()]);
    assert.deepEqual(a, b);
    w.write('info', 'too late');
    assert.match(await store.read(a as LogIndex), /object message\n$/);
    await store.close();
  });

  test('live() serves the text so far and a subscription that ends with the run', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 100_000, logger: silentLogger });
    const runId = randomUUID();
    assert.equal(store.live(runId), null);
    const w = store.open(runId, startedAt);
    w.write('info', 'before');
    const live = store.live(runId);
    assert.ok(live);
    assert.match(live.text, /INFO \[[^\]]+\] before\n$/);
    const got: string[] = [];
    let ended = 0;
    const unsubscribe = live.subscribe(
      (line) => got.push(line),
      () => (ended += 1),
    );
    w.write('warn', 'after 1');
    w.write('error', 'after 2');
    const index = await w.end();
    assert.equal(ended, 1);
    assert.equal(got.length, 2);
    assert.match(got[0], /WARN \[.*\] after 1$/);
    assert.equal(store.live(runId), null);
    unsubscribe();
    assert.equal(await store.read(index as LogIndex), live.text + got.join('\n') + '\n');
    await store.close();
  });

  test('close ends every open writer and leaves no handle or timer behind', async (t) => {
    const dir = await tempDir(t);
    const fds = openFdCount();
    const timers = activeTimers();
    const store = createRunLogStore({ dir, maxBytesPerRun: 10_000, spillAfterMs: 60_000, logger: silentLogger });
    const runIds = Array.from({ length: 20 }, () => randomUUID());
    for (const id of runIds) store.open(id, startedAt).write('info', `hello ${id}`);
    const live = store.live(runIds[0]);
    let ended = false;
    live?.subscribe(
      () => {},
      () => (ended = true),
    );
    await store.close();
    assert.ok(ended);
    assert.throws(() => store.open(randomUUID(), startedAt));
    assert.equal(activeTimers(), timers);
    assert.equal(openFdCount(), fds);
    const files = await listFiles(dir);
    assert.deepEqual(files, ['runs/2026-11/22/runs-1.log']);
  });
});
