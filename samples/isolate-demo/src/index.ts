/**
 * The isolate-demo sample: jobs that run in an isolated-vm sandbox. `jobcenter-sdk pack` bundles this file into ONE
 * CommonJS script; inside the sandbox only the job context exists (log, params, config, cache, signal): no require,
 * no process, no file system and no network, so the code uses JavaScript itself and nothing else.
 * - `words` counts the words of params.text and returns the most frequent ones (config `top`).
 * - `fibonacci` runs on a cron schedule and walks the Fibonacci sequence one step per run, kept in the job cache.
 */
import type { PJob } from '@jobcenter/job-api';

export interface WordsParams {
  readonly text?: string;
}

export const words: PJob<WordsParams | null> = {
  execute(ctx) {
    const text = ctx.params?.text ?? '';
    const all = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    const counts = new Map<string, number>();
    for (const word of all) counts.set(word, (counts.get(word) ?? 0) + 1);
    const top = [...counts]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, Number(ctx.config.top ?? 3));
    ctx.log.info('%d words, %d distinct', all.length, counts.size);
    return `${all.length} words, ${counts.size} distinct; top: ${top.map(([word, n]) => `${word}=${n}`).join(' ')}`;
  },
};

export const fibonacci: PJob = {
  async execute(ctx) {
    const [a, b] = (await ctx.cache.get<[number, number]>('pair')) ?? [0, 1];
    await ctx.cache.set('pair', [b, a + b]);
    ctx.log.info('fibonacci: next is %d', b);
    return `fibonacci ${b}`;
  },
};
