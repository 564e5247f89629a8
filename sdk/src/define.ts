/**
 * Identity helpers: they only give a job object literal its type, so `ctx` is typed without annotations.
 */
import type { PJob, PJobResolver } from '@jobcenter/job-api';

/**
 * Declares a job. Returns its argument unchanged; export the result under the name a job's `entry` refers to.
 *
 * @example
 * ```ts
 * import { defineJob } from '@jobcenter/sdk';
 * export const report = defineJob<{ day: string }>({
 *   async execute(ctx) {
 *     ctx.log.info('building report for %s', ctx.params.day);
 *     return 'done';
 *   },
 * });
 * ```
 */
export function defineJob<P = unknown>(job: PJob<P>): PJob<P> {
  return job;
}

/**
 * Declares a resolver: a job whose runs return the sub-jobs it wants to exist. Returns its argument unchanged.
 *
 * @example
 * ```ts
 * import { defineResolver } from '@jobcenter/sdk';
 * export const perTenant = defineResolver<{ tenants: string[] }>({
 *   resolve(ctx) {
 *     return ctx.params.tenants.map((t) => ({
 *       name: `sync-${t}`,
 *       entry: 'sync',
 *       params: { tenant: t },
 *       schedule: { type: 'INTERVAL', everyMs: 60_000 },
 *     }));
 *   },
 * });
 * ```
 */
export function defineResolver<P = unknown>(resolver: PJobResolver<P>): PJobResolver<P> {
  return resolver;
}
