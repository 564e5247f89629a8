/**
 * The hello sample: two thread jobs written against the job API.
 * - `hello` greets, using params and config, and counts its runs in the job cache.
 * - `slow` waits a while, logging progress, and stops as soon as the run is killed or times out.
 */
import type { JobContext, PJob } from '@jobcenter/job-api';

export const hello: PJob<{ name?: string }> = {
  async execute(ctx) {
    // A job without params receives null, so read them defensively.
    const name = ctx.params?.name ?? ctx.config.audience ?? 'World';
    const greeting = ctx.config.greeting ?? 'Hello';
    const runs = ((await ctx.cache.get<number>('runs')) ?? 0) + 1;
    await ctx.cache.set('runs', runs);
    const message = `${greeting}, ${name}! (run ${runs})`;
    ctx.log.info('%s [job %s, attempt %d]', message, ctx.job.name, ctx.attempt);
    return message;
  },
};

export const slow: PJob<{ ms?: number }> = {
  async execute(ctx) {
    const total = ctx.params?.ms ?? 3000;
    const step = Math.min(1000, Math.max(1, total));
    let waited = 0;
    ctx.log.info('slow: waiting %d ms', total);
    while (waited < total) {
      const ms = Math.min(step, total - waited);
      await sleep(ms, ctx);
      waited += ms;
      ctx.log.info('slow: %d/%d ms', waited, total);
    }
    return `waited ${total} ms`;
  },
};

/** Resolves after `ms`, or rejects with the abort reason as soon as the run is killed, timed out or shut down. */
function sleep(ms: number, ctx: JobContext<unknown>): Promise<void> {
  const { signal } = ctx;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      ctx.log.warn('slow: aborted, stopping');
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(`aborted: ${String(signal.reason ?? 'no reason')}`);
}
