import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BEAT_MS, BLOCKED_MS, culpritOf, LATE_MS, VITALS_WORDS, WATCH_MS, WorkerVitals } from '../../../host/executors/shared/vitals.js';
import { Heartbeat } from '../../../host/executors/shared/worker-vitals.js';

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
 * readings while a run runs; a run's end beats once and, when it was the last, stops the timer; the first tick that
 * finds no run running stops it too. A message is one beat and starts no timer (runs handed over for later do not
 * make the worker beat). Counted over real time, so the bounds are wide.
 */
describe("a worker's heartbeat", () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  function beating() {
    const vitals = new WorkerVitals(4);
    const words = new Int32Array(vitals.buffer);
    const state = { running: 0 };
    const heartbeat = new Heartbeat(vitals.buffer, () => state.running > 0);
    const beats = () => Atomics.load(words, VITALS_WORDS.beat);
    const memoryKib = () => Atomics.load(words, VITALS_WORDS.memoryKib);
    return { heartbeat, state, beats, memoryKib };
  }

  test('a running run beats every BEAT_MS and reads the heap; its end beats once and stops the timer; a message alone is one beat', async () => {
    const worker = beating();
    worker.heartbeat.bump();
    worker.heartbeat.bump();
    await sleep(BLOCKED_MS);
    assert.equal(worker.beats(), 2, 'messages while no run runs (runs held for later) beat once each and start no timer');
    assert.equal(worker.memoryKib(), 0, 'no heap reading while no run runs');

    // Two runs: the end of the first leaves the timer to the second.
    worker.state.running = 2;
    worker.heartbeat.enter(0);
    worker.heartbeat.leave();
    worker.heartbeat.enter(1);
    worker.heartbeat.leave();
    await sleep(BLOCKED_MS);
    const busy = worker.beats() - 2;
    assert.ok(busy >= BLOCKED_MS / BEAT_MS / 2, `busy pace: ${busy} beats in ${BLOCKED_MS} ms`);
    assert.ok(worker.memoryKib() > 0, 'the heap was read');
    worker.state.running = 1;
    worker.heartbeat.ended();
    let at = worker.beats();
    await sleep(BLOCKED_MS / 2);
    assert.ok(worker.beats() - at >= 4, 'a run still runs: the busy pace goes on');

    worker.state.running = 0;
    at = worker.beats();
    worker.heartbeat.ended();
    assert.equal(worker.beats(), at + 1, "the last run's end is one beat (its result is on its way)");
    await sleep(BLOCKED_MS);
    assert.equal(worker.beats(), at + 1, 'no run runs: the timer stopped at once');

    // A run that ends without telling (the worker's view of running is all that counts): the next tick stops.
    worker.state.running = 1;
    worker.heartbeat.enter(2);
    worker.heartbeat.leave();
    await sleep(BLOCKED_MS / 2);
    assert.ok(worker.beats() - at >= 4, 'a run that starts brings the busy pace back at once');
    worker.state.running = 0;
    await sleep(2 * BEAT_MS);
    const stopped = worker.beats();
    await sleep(BLOCKED_MS);
    assert.equal(worker.beats(), stopped, 'the first tick that finds no run running stopped the timer');
  });
});

describe('the host reading a heartbeat', () => {
  test('silence counts between reads WATCH_MS apart; a read LATE_MS after the one before starts the clock again', () => {
    const vitals = new WorkerVitals(1);
    vitals.rest(0);
    let now = 0;
    for (; now < BLOCKED_MS + 100; now += WATCH_MS) vitals.stalledFor(now);
    assert.ok(vitals.stalledFor(now) > BLOCKED_MS, 'read on time, a heartbeat that does not move is silence');

    vitals.rest(0);
    assert.equal(vitals.stalledFor(LATE_MS + 1000), 0, 'the host was late (its own stall): that silence is not counted');
    assert.equal(vitals.stalledFor(LATE_MS + 1000 + WATCH_MS), WATCH_MS, 'and counts again from that read');
  });
});
