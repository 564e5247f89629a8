import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LogLevel } from '@jobcenter/job-api';
import { LOG_BURST_BYTES, RunLogGate } from '../../../host/executors/shared/run-log-gate.js';

function gate(capBytes: number): { gate: RunLogGate; sent: [LogLevel, string][] } {
  const sent: [LogLevel, string][] = [];
  return { gate: new RunLogGate(capBytes, (level, message) => sent.push([level, message])), sent };
}

describe("a run's log gate in its worker", () => {
  test('a run that logs little sends every line at once, in order, with no marker', () => {
    const { gate: g, sent } = gate(1024 * 1024);
    for (let i = 0; i < 100; i++) g.log('info', `line ${i}`);
    g.flush();
    assert.deepEqual(sent.map(([, line]) => line), Array.from({ length: 100 }, (_, i) => `line ${i}`));
  });

  test('a flood keeps the head and the tail, and one marker counts every line dropped', () => {
    const { gate: g, sent } = gate(1024 * 1024);
    const total = 100_000;
    for (let i = 0; i < total; i++) g.log('info', `line ${i} ${'x'.repeat(500)}`);
    const live = sent.length;
    // The burst, plus what the rate refilled while the loop ran, and never more than the head (half the cap).
    assert.ok(live * 580 >= LOG_BURST_BYTES - 1024 && live * 580 <= 512 * 1024, `only the head crossed during the flood (${live} lines)`);
    g.flush();
    const markers = sent.filter(([, line]) => line.includes('[jobcenter:'));
    assert.equal(markers.length, 1);
    assert.equal(markers[0]![0], 'warn');
    const dropped = Number(/jobcenter: ([\d,]+) lines/.exec(markers[0]![1])![1]!.replaceAll(',', ''));
    assert.equal(dropped + sent.length - 1, total, 'every line is sent or counted');
    assert.match(sent[0]![1], /^line 0 /);
    assert.match(sent.at(-1)![1], new RegExp(`^line ${total - 1} `));
    const bytes = sent.reduce((sum, [, line]) => sum + Buffer.byteLength(line) + 72, 0);
    assert.ok(bytes <= 1024 * 1024, `what crossed fits the cap (${bytes} bytes)`);
  });

  test('a line too long to cut is replaced by a note, and a long one is cut', () => {
    const { gate: g, sent } = gate(1024 * 1024);
    g.log('info', 'c'.repeat(100e6));
    g.log('info', 'd'.repeat(600_000));
    g.flush();
    assert.match(sent[0]![1], /^\[a text of 100,000,000 characters was not kept/);
    assert.ok(sent.every(([, line]) => line.length < 600_000));
  });
});
