/**
 * __NAME__: a JobCenter thread job. The host runs `hello` in a worker thread of the project's pool; its return
 * value becomes the run's result.
 */
import { defineJob } from '@jobcenter/sdk';

export interface HelloParams {
  readonly name?: string;
}

export const hello = defineJob<HelloParams | null>({
  async execute(ctx) {
    // A job created without params receives null.
    const name = ctx.params?.name ?? ctx.config.audience ?? 'World';
    const greeting = ctx.config.greeting ?? 'Hello';
    // The cache keeps values across runs of this job (and across host restarts).
    const runs = ((await ctx.cache.get<number>('runs')) ?? 0) + 1;
    await ctx.cache.set('runs', runs);
    if (ctx.signal.aborted) throw new Error('aborted before greeting');
    ctx.log.info('%s, %s! (run %d)', greeting, name, runs);
    return `${greeting}, ${name}! (run ${runs})`;
  },
});
