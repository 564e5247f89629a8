/**
 * Making a fresh context never waits on the host's main thread for a busy isolate: an idle isolate may be spinning on
 * what its last run left behind, and a synchronous call into it (`setSync`) would hold the host's event loop, and with
 * it the idle watch that disposes such an isolate, for as long as the isolate spins (a whole test host hung so).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ivm from 'isolated-vm';
import { FreshContext } from '../../../host/executors/isolate/isolate-context.js';

const SPIN_MS = 1_500;

test('a context is made without holding the host event loop while its isolate spins', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  try {
    const spinner = await isolate.createContext();
    const loop = await isolate.compileScript('for (;;) {}');
    let spin: Promise<unknown> | undefined;
    // The isolate starts spinning once the new context exists, before its bridges are set: the leftover's timing.
    const racing = {
      get cpuTime() {
        return isolate.cpuTime;
      },
      async createContext() {
        const context = await isolate.createContext();
        spin = loop.run(spinner, { timeout: SPIN_MS }).catch((err: unknown) => err);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return context;
      },
    } as unknown as ivm.Isolate;

    let last = Date.now();
    let maxGap = 0;
    const ticker = setInterval(() => {
      const now = Date.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    try {
      const fresh = await FreshContext.create(racing, false);
      fresh.release();
    } finally {
      clearInterval(ticker);
      maxGap = Math.max(maxGap, Date.now() - last);
    }
    const ended = await spin;
    assert.match(String(ended), /timed out/i, 'the spin ran to its own timeout');
    assert.ok(maxGap < SPIN_MS / 2, `the host's event loop kept turning while the isolate spun (largest gap ${maxGap} ms)`);
  } finally {
    isolate.dispose();
  }
});
