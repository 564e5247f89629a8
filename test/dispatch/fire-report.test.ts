/**
 * FireReport: an overloaded host counts the fires it drops and the runs it starts late, says so in one warning per
 * window (not a line per fire), and says once that it caught up. Its window is a setInterval and its overload time
 * Date.now(): the tests move mocked clocks, so a window passes exactly when they say and no slower on a busy machine.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
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

/**
 * Mocked setInterval and Date, from 0. Node 20's mocked tick() queues an interval again after its callback even when
 * the callback cleared it, and FireReport clears its interval from its own callback once caught up: a cleared
 * interval's callback is skipped here, as real timers would not call it. The mock puts the real globals back at the
 * end of the test.
 */
function mockClock(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
  const cleared = new WeakSet<object>();
  const { setInterval: mockedSet, clearInterval: mockedClear } = globalThis;
  globalThis.clearInterval = ((timer: NodeJS.Timeout | undefined) => {
    if (timer) cleared.add(timer);
    mockedClear(timer);
  }) as typeof clearInterval;
  globalThis.setInterval = ((callback: () => void, ms: number) => {
    const timer = mockedSet(() => {
      if (!cleared.has(timer)) callback();
    }, ms);
    return timer;
  }) as typeof setInterval;
}

describe('FireReport', () => {
  test('on-time starts cost nothing and say nothing', (t) => {
    mockClock(t);
    const { logger, lines } = capture();
    const report = new FireReport(logger, 30);
    for (let i = 0; i < 1000; i++) report.noteStart(LATE_MS - 1);
    t.mock.timers.tick(90);
    assert.equal(report.overloaded, false);
    assert.equal(report.late, 0);
    assert.deepEqual(lines, []);
  });

  test('drops and late starts: counted, one warning per window, then one line when caught up', (t) => {
    mockClock(t);
    const { logger, lines } = capture();
    const report = new FireReport(logger, 40);
    report.noteDropped('row_backlog', 9000);
    for (let i = 0; i < 500; i++) report.noteDropped('in_flight');
    report.noteStart(1500);
    report.noteStart(2500);
    assert.equal(report.overloaded, true);
    assert.deepEqual(report.dropped, { in_flight: 500, row_backlog: 9000, db_unavailable: 0 });
    assert.equal(report.late, 2);
    t.mock.timers.tick(39);
    assert.equal(lines.length, 0, 'nothing is said before the window ends');
    t.mock.timers.tick(1);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(lines[0]!.message, /overloaded/);
    assert.equal(lines[0]!.fields!.droppedWhileRowsBacklogged, 9000);
    assert.equal(lines[0]!.fields!.droppedOverMaxRunsInFlight, 500);
    assert.equal(lines[0]!.fields!.startedLate, 2);
    assert.equal(lines[0]!.fields!.maxLagMs, 2500);
    t.mock.timers.tick(40);
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.match(lines[1]!.message, /caught up/);
    assert.equal(lines[1]!.fields!.dropped, 9500);
    assert.equal(lines[1]!.fields!.overloadMs, 40, 'the overload lasted one window');
    assert.equal(report.overloaded, false);
    // Totals stay for /metrics after the overload is over.
    assert.equal(report.dropped.row_backlog, 9000);
    t.mock.timers.tick(200);
    assert.equal(lines.length, 2, 'no more lines once caught up');
    report.stop();
  });
});
