/** The REST router of a project's bundle versions (project-routes.ts describes its routes). */
import { parseFlag } from '../../services/input.js';
import { requireActor } from '../middleware.js';
import { presentBundle } from '../present.js';
import { withUploadedFile } from '../upload.js';
import type { ApiDeps } from './deps.js';
import { pathId, queryOf } from './request.js';
import type { DocumentedRouter } from './spec.js';

export function mountBundleRoutes(r: DocumentedRouter, deps: Pick<ApiDeps, 'config' | 'access' | 'projects'>): void {
  r.get('/projects/:id/bundles', async (ctx) => {
    const { bundles, currentBundleId } = await deps.projects.listBundles(requireActor(ctx), pathId(ctx));
    ctx.body = bundles.map((bundle) => presentBundle(bundle, currentBundleId));
  });
  r.post('/projects/:id/bundles', async (ctx) => {
    const actor = requireActor(ctx);
    const projectId = pathId(ctx);
    await deps.access.writableProject(actor, projectId);
    const tmp = `${deps.config.dataDir}/tmp`;
    const result = await withUploadedFile(ctx, tmp, deps.config.maxBundleBytes, (file) => deps.projects.uploadBundle(actor, projectId, file));
    ctx.status = 201;
    ctx.body = { ...presentBundle(result.bundle, result.bundle.id), warnings: result.warnings };
  });
  r.post('/projects/:id/bundles/:bundleId/activate', async (ctx) => {
    const projectId = pathId(ctx);
    const bundleId = pathId(ctx, 'bundleId');
    const result = await deps.projects.activateBundle(requireActor(ctx), projectId, bundleId);
    ctx.body = { ...presentBundle(result.bundle, result.bundle.id), warnings: result.warnings };
  });
  r.delete('/projects/:id/bundles/:bundleId', async (ctx) => {
    const force = parseFlag(queryOf(ctx).force, 'force');
    await deps.projects.deleteBundle(requireActor(ctx), pathId(ctx), pathId(ctx, 'bundleId'), force);
    ctx.status = 204;
  });
}
