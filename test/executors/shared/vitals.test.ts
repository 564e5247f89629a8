import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BEAT_MS, BLOCKED_MS, culpritOf, VITALS_WORDS, WorkerVitals } from '../../../host/executors/shared/vitals.js';
import { Heartbeat, type Holding } from '../../../host/executors/shared/worker-vitals.js';

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

/**
 * The worker's heartbeat, on the main thread here (the class only needs the buffer and timers): busy pace and heap
 * readings while a run runs; the slow pace while it holds only runs waiting for their start time, and for a while
 * after its last run; then no timer at all. Counted over real time, so the bounds are wide.
 */
describe("a worker's heartbeat", () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  function beating(holding: Holding) {
    const vitals = new WorkerVitals(4);
    const words = new Int32Array(vitals.buffer);
    const state = { holding };
    const heartbeat = new Heartbeat(vitals.buffer, () => state.holding);
    const beats = () => Atomics.load(words, VITALS_WORDS.beat);
    const memoryKib = () => Atomics.load(words, VITALS_WORDS.memoryKib);
    return { heartbeat, state, beats, memoryKib };
  }

  test('a running run beats every BEAT_MS and reads the heap; waiting runs beat four times per BLOCKED_MS without reading it', async () => {
    const running = beating('running');
    running.heartbeat.bump();
    await sleep(BLOCKED_MS);
    assert.ok(running.beats() >= BLOCKED_MS / BEAT_MS / 2, `busy pace: ${running.beats()} beats in ${BLOCKED_MS} ms`);
    assert.ok(running.memoryKib() > 0, 'the heap was read');
    running.state.holding = 'none';

    const waiting = beating('waiting');
    waiting.heartbeat.bump();
    await sleep(2 * BLOCKED_MS);
    const slow = waiting.beats();
    assert.ok(slow >= 4 && slow <= 12, `slow pace: ${slow} beats in ${2 * BLOCKED_MS} ms (8 expected, 40 at the busy pace)`);
    assert.equal(waiting.memoryKib(), 0, 'no heap reading while no run runs');
    await sleep(BLOCKED_MS);
    assert.ok(waiting.beats() > slow, 'a worker holding waiting runs keeps beating: the host would call it blocked otherwise');

    waiting.heartbeat.enter(0);
    waiting.state.holding = 'running';
    const before = waiting.beats();
    await sleep(BLOCKED_MS / 2);
    assert.ok(waiting.beats() - before >= 4, 'a run that starts brings the busy pace back at once');
    waiting.state.holding = 'none';

    await sleep(4 * BLOCKED_MS);
    const stopped = [running.beats(), waiting.beats()];
    await sleep(BLOCKED_MS);
    assert.deepEqual([running.beats(), waiting.beats()], stopped, 'no run held: the heartbeat stops after lingering');
  });
});
