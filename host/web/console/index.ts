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
import { Pages } from './page.js';
import { mountProjectPages } from './projects.js';
import { Views } from './render.js';
import { mountRunPages } from './runs.js';

/** Refusals as pages (the REST API answers them as JSON; here a person reads them). */
function errorPages(pages: Pages) {
  return async (ctx: Context, next: Next): Promise<void> => {
    securityHeaders(ctx);
    try {
      await next();
    } catch (err) {
      if (!(err instanceof HostError) || ['INTERNAL', 'UNAVAILABLE', 'LEASE_LOST'].includes(err.code)) throw err;
      const status = { BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409, TOO_LARGE: 413, UNPROCESSABLE: 422, TOO_MANY_REQUESTS: 429 }[err.code as string] ?? 400;
      pages.show(ctx, 'error', 'Not possible', { status, message: err.message, section: '' }, status);
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
  router.use(errorPages(pages));
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
