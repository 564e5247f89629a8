/**
 * FireReport: an overloaded host counts the fires it drops and the runs it starts late, says so in one warning per
 * window (not a line per fire), and says once that it caught up.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FireReport, LATE_MS } from '../../host/dispatch/fire-report.js';
import type { Logger } from '../../host/log/logger.js';

function capture(): { logger: Logger; lines: { message: string; fields?: Record<string, unknown> }[] } {
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message, fields) => lines.push({ message, fields }),
    error: (message, fields) => lines.push({ message, fields }),
    child: () => logger,
  };
  return { logger, lines };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('FireReport', () => {
  test('on-time starts cost nothing and say nothing', async () => {
    const { logger, lines } = capture();
    const report = new FireReport(logger, 30);
    for (let i = 0; i < 1000; i++) report.noteStart(LATE_MS - 1);
    await sleep(80);
    assert.equal(report.overloaded, false);
    assert.equal(report.late, 0);
    assert.deepEqual(lines, []);
  });

  test('drops and late starts: counted, one warning per window, then one line when caught up', async () => {
    const { logger, lines } = capture();
    const report = new FireReport(logger, 40);
    report.noteDropped('row_backlog', 9000);
    for (let i = 0; i < 500; i++) report.noteDropped('in_flight');
    report.noteStart(1500);
    report.noteStart(2500);
    assert.equal(report.overloaded, true);
    assert.deepEqual(report.dropped, { in_flight: 500, row_backlog: 9000, db_unavailable: 0 });
    assert.equal(report.late, 2);
    await sleep(60);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(lines[0]!.message, /overloaded/);
    assert.equal(lines[0]!.fields!.droppedWhileRowsBacklogged, 9000);
    assert.equal(lines[0]!.fields!.droppedOverMaxRunsInFlight, 500);
    assert.equal(lines[0]!.fields!.startedLate, 2);
    assert.equal(lines[0]!.fields!.maxLagMs, 2500);
    await sleep(60);
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.match(lines[1]!.message, /caught up/);
    assert.equal(lines[1]!.fields!.dropped, 9500);
    assert.equal(report.overloaded, false);
    // Totals stay for /metrics after the overload is over.
    assert.equal(report.dropped.row_backlog, 9000);
    await sleep(100);
    assert.equal(lines.length, 2, 'no more lines once caught up');
    report.stop();
  });
});
