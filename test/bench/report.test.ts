import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FireLog, quantiles } from '../../bench/lib/measure.js';
import { makePlan } from '../../bench/lib/plan.js';
import { aggregate, cell, median, table } from '../../bench/lib/report.js';
import { barChart } from '../../bench/lib/svg.js';

describe('the benchmark report', () => {
  test('a cell shows the median with the spread of the repetitions', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(cell([10, 30, 20]), '20 (10–30)');
    assert.equal(cell([5]), '5');
    assert.equal(cell(undefined), '–');
  });

  test('repetitions of one contender fold into one row and a failure keeps its reason', () => {
    const step = { workload: 'tick' as const, size: 100, contender: 'limits', label: 'one bare timer', args: [] };
    const rows = aggregate([
      { step, minute: 5, samples: [{ subject: 'one bare timer', metrics: { p99: 2 } }] },
      { step, minute: 6, samples: [{ subject: 'one bare timer', metrics: { p99: 4 } }] },
      { step: { ...step, label: 'croner' }, minute: 7, samples: [{ subject: 'croner', metrics: {}, note: 'failed: ran out of the default heap' }] },
    ]);
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0].values.p99, [2, 4]);
    const md = table('tick', rows, []);
    assert.match(md, /\| 100 \| one bare timer \| – \| 3 \(2–4\)/);
    assert.match(md, /failed: ran out of the default heap/);
  });

  test('a chart is an SVG with one labelled bar per figure and text where a figure is missing', () => {
    const svg = barChart({ title: 'lag', unit: 'ms', log: true, bars: [{ label: 'a <b>', value: 2 }, { label: 'c', value: 200, ours: true }, { label: 'd', value: Number.NaN, text: 'out of memory' }] });
    assert.match(svg, /^<svg /);
    assert.equal((svg.match(/<rect x=/g) ?? []).length, 2);
    assert.match(svg, /a &lt;b&gt;/);
    assert.match(svg, /out of memory/);
  });

  test('the fire log counts a fire once and a fire it never saw as missed', () => {
    const log = new FireLog({ from: 1000, to: 4000 });
    log.record(0, 1000, 1002);
    log.record(0, 2000, 2003);
    log.record(0, 2000, 2004);
    log.record(0, 5000, 5001);
    assert.equal(log.missed(1, 1000), 1);
    assert.equal(quantiles(log.lags).max, 4);
  });

  test('the quick plan runs every workload once at small sizes', () => {
    const plan = makePlan(true, null);
    assert.equal(plan.reps, 1);
    assert.equal(plan.seconds, 10);
    const workloads = new Set(plan.steps.map((s) => s.workload));
    assert.deepEqual([...workloads].sort(), ['isolation', 'reload', 'rest', 'scale', 'spread', 'throughput', 'tick']);
    assert.ok(plan.steps.every((s) => s.size <= 10_000));
  });
});
