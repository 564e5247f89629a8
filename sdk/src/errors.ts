/**
 * Thrown by a job whose failure another try cannot fix (bad input, a record that no longer exists): the host
 * records the run FAILED and does not retry it, whatever the job's `retries` policy says. The host recognises it
 * by `code` ('UNRECOVERABLE'), so a job that does not use the SDK can throw any error with that code.
 *
 * @example
 * ```ts
 * import { defineJob, UnrecoverableJobError } from '@jobcenter/sdk';
 * export const charge = defineJob<{ orderId?: string }>({
 *   async execute(ctx) {
 *     if (!ctx.params.orderId) throw new UnrecoverableJobError('params.orderId is missing');
 *     return `charged ${ctx.params.orderId}`;
 *   },
 * });
 * ```
 */
export class UnrecoverableJobError extends Error {
  readonly code = 'UNRECOVERABLE' as const;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnrecoverableJobError';
  }
}
