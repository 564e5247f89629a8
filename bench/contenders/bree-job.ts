/** Bree's job: an empty body whose first line reports the wall time it ran at, then says it is done. */
import { parentPort } from 'node:worker_threads';

parentPort?.postMessage({ at: performance.timeOrigin + performance.now() });
parentPort?.postMessage('done');
