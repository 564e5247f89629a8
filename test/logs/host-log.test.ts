import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHostLogger } from '../../host/log/host-log.js';
import { DayFileSink } from '../../host/log/day-file-sink.js';
import { activeTimers, listFiles, openFdCount, tempDir } from './helpers.js';

function today(): { month: string; day: string } {
  const iso = new Date().toISOString();
  return { month: iso.slice(0, 7), day: iso.slice(0, 10) };
}

describe('host log', () => {
  test('lines go to the day file in the month folder with level, bindings and fields', async (t) => {
    const dir = await tempDir(t);
    const host = createHostLogger({ dir, level: 'info' });
    const run = host.logger.child({ runId: 'r-1' }).child({ jobId: 7 });
    host.logger.debug('not written');
    host.logger.info('host started', { port: 8017 });
    run.warn('run is slow', { elapsedMs: 12 });
    run.error('run failed', { error: Object.assign(new Error('boom'), { code: 'E_X' }) });
    await host.shutdown();
    const { month, day } = today();
    assert.deepEqual(await listFiles(dir), [`${month}/${day}.log`]);
    const lines = (await readFile(`${dir}/${month}/${day}.log`, 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z INFO {2}\[jobcenter\] host started \{"port":8017\}$/);
    assert.match(lines[1], / WARN {2}\[jobcenter runId=r-1 jobId=7\] run is slow \{"elapsedMs":12\}$/);
    assert.match(lines[2], / ERROR \[jobcenter runId=r-1 jobId=7\] run failed \{"error":\{"name":"Error","message":"boom","code":"E_X","stack":/);
  });

  test('shutdown flushes every line and leaves no open file or timer', async (t) => {
    const dir = await tempDir(t);
    const fds = openFdCount();
    const timers = activeTimers();
    const host = createHostLogger({ dir, level: 'debug' });
    for (let i = 0; i < 5000; i++) host.logger.debug(`line ${i}`, { i });
    await host.shutdown();
    host.logger.info('after shutdown');
    const { month, day } = today();
    const text = await readFile(`${dir}/${month}/${day}.log`, 'utf8');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 5000);
    assert.match(lines[4999], /line 4999 \{"i":4999\}$/);
    assert.equal(openFdCount(), fds);
    assert.equal(activeTimers(), timers);
  });

  test('two host loggers in one process each keep their own file', async (t) => {
    const dirA = await tempDir(t);
    const dirB = await tempDir(t);
    const a = createHostLogger({ dir: dirA, level: 'info' });
    const b = createHostLogger({ dir: dirB, level: 'warn' });
    a.logger.info('from a');
    b.logger.info('b info is below its level');
    b.logger.warn('from b');
    await a.shutdown();
    b.logger.error('b still writes after a shut down');
    await b.shutdown();
    const { month, day } = today();
    const textA = await readFile(`${dirA}/${month}/${day}.log`, 'utf8');
    const textB = await readFile(`${dirB}/${month}/${day}.log`, 'utf8');
    assert.match(textA, /from a\n$/);
    assert.doesNotMatch(textA, /from b/);
    assert.equal(textB.trimEnd().split('\n').length, 2);
    assert.match(textB, /from b\n.*b still writes/s);
  });

  test('fields that cannot be JSON do not break the line', async (t) => {
    const dir = await tempDir(t);
    const host = createHostLogger({ dir, level: 'info' });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    host.logger.child({ note: 'has space' }).info('odd fields', { cyclic, big: 10n });
    await host.shutdown();
    const { month, day } = today();
    const text = await readFile(`${dir}/${month}/${day}.log`, 'utf8');
    assert.match(text, /\[jobcenter note="has space"\] odd fields \{"cyclic":\{"name":"loop","self":"\[circular\]"\},"big":"10"\}\n$/);
  });

  test('console: true also prints each line to stdout', async (t) => {
    const dir = await tempDir(t);
    const printed: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    t.after(() => {
      process.stdout.write = original;
    });
    process.stdout.write = ((chunk: string | Uint8Array) => {
      if (String(chunk).includes('to the console')) printed.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    const host = createHostLogger({ dir, level: 'info', console: true });
    host.logger.info('to the console');
    process.stdout.write = original;
    await host.shutdown();
    assert.equal(printed.length, 1);
    assert.match(printed[0], /INFO {2}\[jobcenter\] to the console\n$/);
  });

  test('a line after midnight goes to the next day, and a new month to a new folder', async (t) => {
    const dir = await tempDir(t);
    const sink = new DayFileSink(dir);
    sink.write('last of october', new Date('2026-10-31T23:59:59.999Z'));
    sink.write('first of november', new Date('2026-11-01T00:00:00.000Z'));
    sink.write('second of november', new Date('2026-11-02T00:00:00.000Z'));
    await sink.close();
    assert.deepEqual(await listFiles(dir), ['2026-10/2026-10-31.log', '2026-11/2026-11-01.log', '2026-11/2026-11-02.log']);
    assert.equal(await readFile(`${dir}/2026-11/2026-11-01.log`, 'utf8'), 'first of november\n');
  });
});
