import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../host/log/logger.js';
import { createRunLogStore, type LogIndex } from '../../host/blob/run-logs.js';
import { activeTimers, listFiles, openFdCount, tempDir, waitFor } from './helpers.js';

const startedAt = new Date('2026-11-22T10:00:00.000Z');

describe('run log spill and recovery', () => {
  test('a run still going after spillAfterMs spills to live/<id>.log and end() moves it into the day file', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 100_000, spillAfterMs: 30, logger: silentLogger });
    const runId = randomUUID();
    const spill = path.join(dir, 'live', `${runId}.log`);
    const w = store.open(runId, startedAt);
    w.write('info', 'one');
    assert.equal(existsSync(spill), false);
    await waitFor(async () => existsSync(spill) && (await readFile(spill, 'utf8')).includes('one\n'));
    w.write('info', 'two');
    await waitFor(async () => (await readFile(spill, 'utf8')).includes('two\n'));
    w.write('info', 'three');
    const index = (await w.end()) as LogIndex;
    assert.equal(existsSync(spill), false);
    assert.match(await store.read(index), /one\n.*two\n.*three\n$/s);
    await store.close();
    assert.deepEqual(await listFiles(dir), ['runs/2026-11/22/runs-1.log']);
  });

  test('a silent long run never spills', async (t) => {
    const dir = await tempDir(t);
    const timers = activeTimers();
    const store = createRunLogStore({ dir, maxBytesPerRun: 100_000, spillAfterMs: 1, logger: silentLogger });
    const w = store.open(randomUUID(), startedAt);
    assert.equal(activeTimers(), timers);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await w.end(), null);
    await store.close();
    assert.deepEqual(await listFiles(dir), []);
  });

  test('a run whose buffer passes spillAfterBytes spills at once', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1_000_000, spillAfterBytes: 1000, logger: silentLogger });
    const runId = randomUUID();
    const w = store.open(runId, startedAt);
    for (let i = 0; i < 30; i++) w.write('info', `line ${i} ${'b'.repeat(40)}`);
    const spill = path.join(dir, 'live', `${runId}.log`);
    await waitFor(async () => existsSync(spill) && (await readFile(spill, 'utf8')).includes('line 29 '));
    const index = (await w.end()) as LogIndex;
    assert.equal((await store.read(index)).trimEnd().split('\n').length, 30);
    await store.close();
  });

  test('the spill file stops at the cap while the tail stays in memory', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 2000, spillAfterBytes: 100, logger: silentLogger });
    const runId = randomUUID();
    const w = store.open(runId, startedAt);
    for (let i = 0; i < 400; i++) w.write('info', `line ${i}`);
    const spill = path.join(dir, 'live', `${runId}.log`);
    await waitFor(async () => existsSync(spill) && (await readFile(spill, 'utf8')).includes('over the cap'));
    const spilled = await readFile(spill, 'utf8');
    assert.ok(Buffer.byteLength(spilled) < 2300, `spill size ${Buffer.byteLength(spilled)}`);
    assert.doesNotMatch(spilled, /line 399\n/);
    const text = await store.read((await w.end()) as LogIndex);
    assert.match(text, /line 0\n/);
    assert.match(text, /lines cut\] …\n/);
    assert.match(text, /line 399\n$/);
    assert.doesNotMatch(text, /over the cap/);
    await store.close();
  });

  test('recover() after a crash returns indexes with the spilled text and removes strays', async (t) => {
    const dir = await tempDir(t);
    const crashed = createRunLogStore({ dir, maxBytesPerRun: 100_000, spillAfterBytes: 10, logger: silentLogger });
    const runA = randomUUID();
    const runB = randomUUID();
    const a = crashed.open(runA, startedAt);
    const b = crashed.open(runB, startedAt);
    a.write('info', 'a was here', startedAt);
    a.write('warn', 'a again', startedAt);
    b.write('info', 'b was here', startedAt);
    const spillA = path.join(dir, 'live', `${runA}.log`);
    const spillB = path.join(dir, 'live', `${runB}.log`);
    await waitFor(async () => existsSync(spillA) && (await readFile(spillA, 'utf8')).includes('a again'));
    await waitFor(async () => existsSync(spillB) && (await readFile(spillB, 'utf8')).includes('b was here'));
    await writeFile(path.join(dir, 'live', 'not-a-run.txt'), 'left alone');
    // The crashed store is never ended: a new store on the same folder recovers run A only.
    const store = createRunLogStore({ dir, maxBytesPerRun: 100_000, logger: silentLogger });
    const found = await store.recover([runA, '../../etc/passwd']);
    assert.deepEqual([...found.keys()], [runA]);
    const text = await store.read(found.get(runA) as LogIndex);
    assert.ok(text.startsWith(`${startedAt.toISOString()} INFO [${runA}] a was here\n`));
    assert.match(text, /a again\n.*WARN \[.*\] … \[the host stopped while this run was going/s);
    assert.equal(found.get(runA)?.file, 'runs/2026-11/22/runs-1.log');
    assert.equal(existsSync(spillA), false);
    assert.equal(existsSync(spillB), false);
    assert.ok(existsSync(path.join(dir, 'live', 'not-a-run.txt')));
    await store.close();
    await crashed.close();
  });

  test('recover() on a folder without spills finds nothing', async (t) => {
    const dir = await tempDir(t);
    const store = createRunLogStore({ dir, maxBytesPerRun: 1000, logger: silentLogger });
    assert.equal((await store.recover([randomUUID()])).size, 0);
    await mkdir(path.join(dir, 'live'));
    assert.equal((await store.recover([])).size, 0);
    await store.close();
  });

  test('closing a store with spilled runs leaves no open file or timer', async (t) => {
    const dir = await tempDir(t);
    const fds = openFdCount();
    const timers = activeTimers();
    const store = createRunLogStore({ dir, maxBytesPerRun: 10_000, spillAfterMs: 5, logger: silentLogger });
    const ids = Array.from({ length: 10 }, () => randomUUID());
    for (const id of ids) store.open(id, startedAt).write('info', 'x');
    await waitFor(() => ids.every((id) => existsSync(path.join(dir, 'live', `${id}.log`))));
    await store.close();
    assert.equal(openFdCount(), fds);
    assert.equal(activeTimers(), timers);
    assert.deepEqual(await listFiles(dir), ['runs/2026-11/22/runs-1.log']);
  });
});
