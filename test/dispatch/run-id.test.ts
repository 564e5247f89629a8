/**
 * Run ids are UUID version 7: valid UUIDs, unique, and in the order they were made, so the runs table's key grows at
 * its end rather than at random pages.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RunIds } from '../../host/dispatch/run-id.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 48-bit millisecond timestamp at the head of an id. */
const msOf = (id: string): number => parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('run ids', () => {
  const runIds = new RunIds();
  const newRunId = (now?: number): string => runIds.next(now);
  test('are version 7 UUIDs that carry the time they were made', () => {
    const before = Date.now();
    const id = newRunId();
    const after = Date.now();
    assert.match(id, V7);
    assert.ok(msOf(id) >= before && msOf(id) <= after, `${id} says ${new Date(msOf(id)).toISOString()}`);
  });

  test('made in one millisecond and across many are unique and strictly increasing', () => {
    const ids: string[] = [];
    for (let i = 0; i < 20_000; i++) ids.push(newRunId());
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} before ${ids[i]}`);
    assert.ok(ids.every((id) => V7.test(id)));
  });

  test('more than 4,096 in one millisecond, or a clock that went back, keep the order', () => {
    // A time far from now spells all 48 bits (and moves this generator's clock ahead: the tests above use the real one).
    assert.equal(msOf(newRunId(0xfedc_ba98_7654)), 0xfedc_ba98_7654);
    // Later than any id made before by this generator, so the first of these starts a new millisecond.
    const now = 0xff00_0000_0000;
    const ids = Array.from({ length: 10_000 }, () => newRunId(now));
    // The counter's 12 bits hold at most 4,096 ids a millisecond: 10,000 borrowed at least the next two.
    assert.ok(msOf(ids.at(-1)!) >= now + 2, `the last id says ${msOf(ids.at(-1)!) - now} ms after now`);
    ids.push(newRunId(now - 5_000));
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} before ${ids[i]}`);
    assert.ok(ids.every((id) => V7.test(id)));
  });

  test('each generator has its own clock: one far ahead does not move another', () => {
    const other = new RunIds();
    const before = Date.now();
    const id = other.next();
    assert.ok(msOf(id) >= before && msOf(id) <= Date.now(), `${id} says ${new Date(msOf(id)).toISOString()}`);
  });
});
