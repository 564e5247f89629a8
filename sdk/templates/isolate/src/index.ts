/**
 * __NAME__: a JobCenter isolate job. `jobcenter-sdk pack` bundles this file and what it imports into ONE script
 * that the host runs in an isolated-vm sandbox: only the job's context crosses in, so there is no require, no
 * process, no file system and no network (use only JavaScript itself and pure packages).
 * Import from '@jobcenter/sdk' with `import type` only: its runtime helpers use Node APIs.
 */
import type { PJob } from '@jobcenter/sdk';

export interface WordsParams {
  readonly text?: string;
}

export const words: PJob<WordsParams | null> = {
  async execute(ctx) {
    const text = ctx.params?.text ?? `${ctx.config.greeting ?? 'Hello'} ${ctx.config.audience ?? 'World'}`;
    const counts = new Map<string, number>();
    for (const word of text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean)) counts.set(word, (counts.get(word) ?? 0) + 1);
    const total = ((await ctx.cache.get<number>('total')) ?? 0) + counts.size;
    await ctx.cache.set('total', total);
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3);
    ctx.log.info('%d distinct words, %d so far', counts.size, total);
    return top.map(([word, n]) => `${word}:${n}`).join(' ');
  },
};
