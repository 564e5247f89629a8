import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdleControllers } from '../../host/dispatch/idle-controllers.js';
import { watchAbort, watching } from '../../host/executors/shared/abort-watch.js';

describe('idle AbortControllers', () => {
  test('a controller whose listeners were all removed is taken back and handed out again', () => {
    const idle = new IdleControllers();
    const controller = idle.take();
    const listener = (): void => undefined;
    controller.signal.addEventListener('abort', listener, { once: true });
    controller.signal.removeEventListener('abort', listener);
    idle.give(controller);
    assert.equal(idle.size, 1);
    assert.equal(idle.take(), controller);
  });

  test('a controller whose signal still has a listener, or an onabort, is not taken back', () => {
    const idle = new IdleControllers();
    const held = idle.take();
    held.signal.addEventListener('abort', () => undefined);
    idle.give(held);
    const handler = idle.take();
    handler.signal.onabort = () => undefined;
    idle.give(handler);
    assert.equal(idle.size, 0);
  });

  test('an onabort handler works on a counted signal, and a signal that ever had one is not taken back', () => {
    const idle = new IdleControllers();
    const cleared = idle.take();
    const handler = (): void => undefined;
    cleared.signal.onabort = handler;
    assert.equal(cleared.signal.onabort, handler, 'the handler reads back');
    cleared.signal.onabort = null;
    assert.equal(cleared.signal.onabort, null);
    // Node keeps the handler's own listener on the signal once one was set: reusing it is not worth the doubt.
    idle.give(cleared, false);
    assert.equal(idle.size, 0);
    const fired = idle.take();
    let called = 0;
    fired.signal.onabort = () => void called++;
    fired.abort('kill');
    assert.equal(called, 1, 'the handler is called on the abort');
  });

  test("a run's own word that it aborted its controller keeps the controller out, whatever the signal says", () => {
    const idle = new IdleControllers();
    idle.give(idle.take(), true);
    assert.equal(idle.size, 0);
  });

  test('a listener added twice, or for the capture phase too, must be removed as often before the controller is taken back', () => {
    const idle = new IdleControllers();
    const controller = idle.take();
    const listener = (): void => undefined;
    controller.signal.addEventListener('abort', listener);
    controller.signal.addEventListener('abort', listener);
    controller.signal.addEventListener('abort', listener, { capture: true });
    controller.signal.removeEventListener('abort', listener);
    idle.give(controller);
    assert.equal(idle.size, 0, 'the capture-phase registration is still there');
    controller.signal.removeEventListener('abort', () => undefined);
    controller.signal.removeEventListener('abort', listener, true);
    idle.give(controller);
    assert.equal(idle.size, 1);
  });

  test('an aborted controller, one made elsewhere and any past the cap are left to the garbage collector', () => {
    const idle = new IdleControllers(2);
    const aborted = idle.take();
    aborted.abort('kill');
    idle.give(aborted);
    idle.give(new AbortController());
    assert.equal(idle.size, 0);
    const three = [idle.take(), idle.take(), idle.take()];
    for (const controller of three) idle.give(controller);
    assert.equal(idle.size, 2);
  });

  test('a controller that was not taken back makes room for a new one under the cap', () => {
    const idle = new IdleControllers(1);
    const aborted = idle.take();
    aborted.abort('kill');
    idle.give(aborted);
    const next = idle.take();
    idle.give(next);
    assert.equal(idle.size, 1);
    assert.equal(idle.take(), next);
  });

  test('a listener on a reused signal still hears its abort', () => {
    const idle = new IdleControllers();
    const first = idle.take();
    idle.give(first);
    const again = idle.take();
    let heard: unknown = null;
    again.signal.addEventListener('abort', () => (heard = again.signal.reason), { once: true });
    again.abort('timeout');
    assert.equal(heard, 'timeout');
  });

  test('a controller watched through watchAbort is taken back once every watch is stopped, and its next run is watched alone', () => {
    const idle = new IdleControllers();
    const controller = idle.take();
    const calls: string[] = [];
    const stopFirst = watchAbort(controller.signal, () => calls.push('first run'));
    idle.give(controller);
    assert.equal(idle.size, 0, 'a run still watches it');
    stopFirst();
    idle.give(controller);
    assert.equal(idle.size, 1, "watchAbort's own listener is not a run's");
    const again = idle.take();
    assert.equal(again, controller);
    watchAbort(again.signal, () => calls.push('second run'));
    again.abort('kill');
    assert.deepEqual(calls, ['second run'], 'the stopped watch of the run before is not called');
    assert.equal(watching(again.signal), 0);
  });

  test('watchAbort calls every watch once, and never a stopped one or one made after the abort', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    watchAbort(controller.signal, () => calls.push('a'));
    watchAbort(controller.signal, () => calls.push('b'));
    const stopC = watchAbort(controller.signal, () => calls.push('c'));
    watchAbort(controller.signal, () => calls.push('d'));
    stopC();
    assert.equal(watching(controller.signal), 3);
    controller.abort('stop');
    controller.abort('again');
    watchAbort(controller.signal, () => calls.push('late'));
    assert.deepEqual(calls, ['a', 'b', 'd']);
  });
});

