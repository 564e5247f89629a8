/**
 * The web console: server-rendered pages over the same services the REST API calls, with the caller's role applied
 * by those services exactly as for the API. One file per page group; views/ holds the templates.
 */
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { HostError } from '../../errors/index.js';
import { mountAdminPages } from './admin.js';
import { mountAssets } from './assets.js';
import { mountAuthPages } from './auth.js';
import type { ConsoleContext, ConsoleDeps } from './context.js';
import { mountDashboardPage } from './dashboard.js';
import { checkCsrf, readForm, requireSignIn, securityHeaders } from './guard.js';
import { mountJobPages } from './jobs.js';
import { Pages, REFUSAL_STATUS } from './page.js';
import { mountProjectPages } from './projects.js';
import { Views } from './render.js';
import { mountRunPages } from './runs.js';

/**
 * Errors as pages a person reads (the REST API answers them as JSON): a refusal says why; the database down says to
 * try again; anything else is logged and the page says where the details are, never what they are.
 */
function errorPages(pages: Pages, deps: ConsoleDeps) {
  return async (ctx: Context, next: Next): Promise<void> => {
    securityHeaders(ctx);
    try {
      await next();
    } catch (err) {
      const status = err instanceof HostError ? REFUSAL_STATUS[err.code] : undefined;
      if (status !== undefined) {
        pages.show(ctx, 'error', 'Not possible', { status, message: (err as Error).message, section: '' }, status);
        return;
      }
      if (deps.database.failed(err) || (err instanceof HostError && err.code === 'UNAVAILABLE')) {
        ctx.set('Retry-After', '5');
        pages.show(ctx, 'error', 'Unavailable', { status: 503, message: 'The database does not answer; try again in a few seconds (/healthz says when it is back).', section: '' }, 503);
        return;
      }
      deps.logger.error('console request failed', { method: ctx.method, path: ctx.path, error: (err as Error)?.stack ?? String(err) });
      pages.show(ctx, 'error', 'Something failed', { status: 500, message: "Something failed on the host; the host's log has the details.", section: '' }, 500);
    }
  };
}

/** POSTs carry the CSRF token and come from this origin; their url-encoded form is read into ctx.state.form. */
async function forms(ctx: Context, next: Next): Promise<void> {
  if (ctx.method === 'POST') {
    const form = await readForm(ctx);
    checkCsrf(ctx, form);
    ctx.state.form = form;
  }
  await next();
}

export function consoleRouter(deps: ConsoleDeps): Router {
  const views = new Views();
  const pages = new Pages(views);
  const c: ConsoleContext = { deps, pages };
  const router = new Router();
  mountAssets(router, views.dir);
  // Before the error pages: they render too.
  router.use(async (_ctx, next) => {
    await views.ready();
    await next();
  });
  router.use(errorPages(pages, deps));
  router.use(forms);
  mountAuthPages(router, c);
  router.use(requireSignIn);
  mountDashboardPage(router, c);
  mountProjectPages(router, c);
  mountJobPages(router, c);
  mountRunPages(router, c);
  mountAdminPages(router, c);
  return router;
}
