/** What every page group of the console is given, and what a POST's handler reads. */
import type { Context } from 'koa';
import type { Logger } from '../../log/logger.js';
import type { ApiDeps } from '../routes/deps.js';
import type { Pages } from './page.js';

export interface ConsoleDeps extends ApiDeps {
  logger: Logger;
  /** Whether an error says the database cannot be reached (and marks it down, as the REST error mapper does). */
  database: { failed(err: unknown): boolean };
}

export interface ConsoleContext {
  deps: ConsoleDeps;
  pages: Pages;
}

/** The url-encoded form of a POST (read and CSRF-checked before the handler runs). */
export function formOf(ctx: Context): Record<string, string> {
  return (ctx.state.form as Record<string, string> | undefined) ?? {};
}
