/**
 * A due timer never runs before the wall clock reaches its time, even when setTimeout wakes early (its clock is not
 * the wall clock: here the wall clock steps back after the timer was armed).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DueTimer } from '../../host/dispatch/due-timer.js';

async function withWallClockBehind<T>(armAndWait: (stepBack: (ms: number) => void) => Promise<T>): Promise<T> {
  const realNow = Date.now;
  try {
    return await armAndWait((ms) => (Date.now = () => realNow() - ms));
  } finally {
    Date.now = realNow;
  }
}

test('a timer that wakes before its wall-clock time re-arms, and runs once that time has come', async () => {
  const { at, ranAt } = await withWallClockBehind(async (stepBack) => {
    const due = Date.now() + 30;
    const ran = new Promise<number>((resolve) => new DueTimer(due, () => resolve(Date.now())));
    stepBack(15);
    return { at: due, ranAt: await ran };
  });
  assert.ok(ranAt >= at, `ran at ${ranAt}, due at ${at}`);
});

test('a cancelled due timer does not run, also after an early wake re-armed it', async () => {
  let ran = false;
  await withWallClockBehind(async (stepBack) => {
    const timer = new DueTimer(Date.now() + 20, () => (ran = true));
    stepBack(40);
    await new Promise((resolve) => setTimeout(resolve, 30)); // woken once, early, and re-armed for 40 ms more
    timer.cancel();
    await new Promise((resolve) => setTimeout(resolve, 60));
  });
  assert.equal(ran, false);
});
