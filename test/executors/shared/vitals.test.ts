import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { culpritOf, VITALS_WORDS, WorkerVitals } from '../../../host/executors/shared/vitals.js';

/** The worker's side of the words, as worker-vitals.ts writes them. */
function worker(vitals: WorkerVitals) {
  const words = new Int32Array(vitals.buffer);
  return {
    claim: (slot: number) => assert.equal(Atomics.compareExchange(words, VITALS_WORDS.claims + slot, vitals.seqOf(slot), -vitals.seqOf(slot)), vitals.seqOf(slot)),
    memory: (mb: number) => Atomics.store(words, VITALS_WORDS.memoryKib, mb * 1024),
  };
}

/** Vitals of `slots` slots whose worker holds `mb` and no runs, with the worker's side, and a run started on it. */
function atRest(slots: number, mb: number) {
  const vitals = new WorkerVitals(slots);
  const w = worker(vitals);
  w.memory(mb);
  vitals.rest(0);
  const start = (): number => {
    const slot = vitals.assign();
    w.claim(slot);
    return slot;
  };
  return { vitals, w, start };
}

describe("a worker's vitals name the run that grew its memory", () => {
  test('growth seen while one run alone had started is booked to it, and names it among overlapping runs', () => {
    const { vitals, w, start } = atRest(4, 10);
    const bomb = start();
    vitals.noteMemory();
    for (const mb of [26, 42, 58, 74]) {
      w.memory(mb);
      vitals.noteMemory();
    }
    // A neighbour starts; the growth from here on is not anyone's alone.
    const beat = start();
    w.memory(140);
    vitals.noteMemory();
    assert.equal(vitals.grownMbOf(bomb), 64);
    assert.equal(vitals.grownMbOf(beat), 0);
    const started = [['bomb', { slot: bomb }], ['beat', { slot: beat }]] as const;
    assert.equal(culpritOf(vitals, started, 128), 'bomb');
    // Not a memory end (a crash, an exit): growth says nothing about it.
    assert.equal(culpritOf(vitals, started), null);
  });

  test('growth under half the limit names no one, and a run handed over but not started is not alone', () => {
    const { vitals, w, start } = atRest(4, 10);
    const a = start();
    const waiting = vitals.assign(); // not claimed: it has not started, so `a` is still alone
    vitals.noteMemory();
    w.memory(60);
    vitals.noteMemory();
    assert.equal(vitals.grownMbOf(a), 50);
    const b = start();
    w.memory(130);
    vitals.noteMemory();
    assert.equal(culpritOf(vitals, [['a', { slot: a }], ['b', { slot: b }]], 128), null);
    assert.equal(vitals.grownMbOf(waiting), 0);
  });

  test('a slot given to a new run starts from nothing, and memory that fell is booked to no one', () => {
    const { vitals, w, start } = atRest(1, 10);
    const first = start();
    vitals.noteMemory();
    w.memory(100);
    vitals.noteMemory();
    assert.equal(vitals.grownMbOf(first), 90);
    vitals.release(first);
    vitals.rest(0);
    const next = vitals.assign();
    assert.equal(next, first);
    assert.equal(vitals.grownMbOf(next), 0);
    w.claim(next);
    vitals.noteMemory();
    w.memory(20);
    vitals.noteMemory();
    assert.equal(vitals.grownMbOf(next), 0);
  });
});
