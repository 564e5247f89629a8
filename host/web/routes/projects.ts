/** The REST router of projects (project-routes.ts describes its routes). */
import { parseListPage } from '../../services/input.js';
import { bodyOf, requireActor } from '../middleware.js';
import type { ApiDeps } from './deps.js';
import { pathId, queryOf } from './request.js';
import type { DocumentedRouter } from './spec.js';

export function mountProjectRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'access' | 'projects'>): void {
  r.get('/projects', async (ctx) => {
    const page = parseListPage(queryOf(ctx));
    ctx.body = await deps.projects.list(requireActor(ctx), page);
  });
  r.post('/projects', async (ctx) => {
    ctx.status = 201;
    ctx.body = await deps.projects.create(requireActor(ctx), bodyOf(ctx));
  });
  r.get('/projects/:id', async (ctx) => {
    ctx.body = await deps.access.readableProject(requireActor(ctx), pathId(ctx));
  });
  r.patch('/projects/:id', async (ctx) => {
    ctx.body = await deps.projects.update(requireActor(ctx), pathId(ctx), bodyOf(ctx));
  });
  r.delete('/projects/:id', async (ctx) => {
    await deps.projects.remove(requireActor(ctx), pathId(ctx));
    ctx.status = 204;
  });
}
