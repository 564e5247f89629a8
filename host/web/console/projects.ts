/** Projects (list, create, edit, delete) and their bundle versions (upload, activate, delete). */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { parseListPage } from '../../services/input.js';
import { pathId, queryOf } from '../routes/request.js';
import { withUploadedFile } from '../upload.js';
import { actorOf } from './guard.js';
import { formOf, type ConsoleContext } from './context.js';
import { canWrite, done, formProblem } from './page.js';
import { userNames } from './people.js';

const PROJECT_FIELDS = { name: 'name', description: 'description', trusted: 'trusted', ownerId: 'ownerId' };

function projectBody(form: Record<string, string>, admin: boolean, withOwner: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { name: form.name ?? '', description: form.description ?? '' };
  if (admin) body.trusted = form.trusted === 'on';
  if (admin && withOwner && form.ownerId) body.ownerId = Number(form.ownerId);
  return body;
}

export function mountProjectPages(router: Router, { deps, pages }: ConsoleContext): void {
  const list = async (ctx: Context, form: Record<string, string> = {}, errors: Record<string, string> = {}, status = 200): Promise<void> => {
    const actor = actorOf(ctx)!;
    const q = queryOf(ctx);
    const page = await deps.projects.list(actor, parseListPage({ q: q.q, cursor: q.cursor, limit: '50' }));
    const owner = await userNames(deps, actor);
    const items = page.items.map((p) => ({ ...p, owner: owner(p.ownerId) }));
    const next = page.nextCursor ? `/projects?${new URLSearchParams({ ...(q.q ? { q: q.q } : {}), cursor: page.nextCursor })}` : null;
    pages.show(ctx, 'projects', 'Projects', { items, q: q.q ?? '', next, form, errors }, status);
  };

  const show = async (ctx: Context, id: number, form?: Record<string, string>, errors: Record<string, string> = {}, status = 200): Promise<void> => {
    const actor = actorOf(ctx)!;
    const project = await deps.access.readableProject(actor, id);
    const { bundles, currentBundleId } = await deps.projects.listBundles(actor, id);
    // A count on the project's index, not its first 1,000 rows read to count them (60 ms p50 on 1,000 jobs).
    const jobCount = await deps.jobs.countInProject(actor, id);
    const owner = await userNames(deps, actor);
    const users = actor.role === 'admin' ? (await deps.auth.listUsers()).map((u) => ({ id: u.id, username: u.username })) : [];
    const writable = canWrite(actor) && (actor.role === 'admin' || project.ownerId === actor.id);
    pages.show(
      ctx,
      'project',
      `Project ${project.name}`,
      {
        section: 'projects',
        project: { ...project, owner: owner(project.ownerId) },
        writable,
        users,
        bundles: [...bundles]
          .sort((a, b) => b.version - a.version)
          .map((b) => ({ ...b, current: b.id === currentBundleId, uploader: owner(b.createdBy), jobs: b.exports.filter((e) => e.type === 'job'), resolvers: b.exports.filter((e) => e.type === 'resolver') })),
        jobCount,
        form: form ?? { name: project.name, description: project.description, trusted: project.trusted ? 'on' : '', ownerId: String(project.ownerId) },
        errors,
        scripts: writable ? ['upload.js'] : [],
      },
      status,
    );
  };

  router.get('/projects', (ctx) => list(ctx));
  router.post('/projects', async (ctx) => {
    const actor = actorOf(ctx)!;
    const form = formOf(ctx);
    try {
      const project = await deps.projects.create(actor, projectBody(form, actor.role === 'admin', false));
      done(ctx, `Project ${project.name} is created. Upload a bundle to it next.`, `/projects/${project.id}`);
    } catch (err) {
      const problem = formProblem(err, PROJECT_FIELDS);
      await list(ctx, form, problem.errors, problem.status);
    }
  });
  router.get('/projects/:id', (ctx) => show(ctx, pathId(ctx)));
  router.post('/projects/:id', async (ctx) => {
    const actor = actorOf(ctx)!;
    const id = pathId(ctx);
    const form = formOf(ctx);
    try {
      await deps.projects.update(actor, id, projectBody(form, actor.role === 'admin', true));
      done(ctx, 'The project is saved.', `/projects/${id}`);
    } catch (err) {
      const problem = formProblem(err, PROJECT_FIELDS);
      await show(ctx, id, form, problem.errors, problem.status);
    }
  });
  router.post('/projects/:id/delete', async (ctx) => {
    const id = pathId(ctx);
    const project = await deps.access.readableProject(actorOf(ctx)!, id);
    await deps.projects.remove(actorOf(ctx)!, id);
    done(ctx, `Project ${project.name} is deleted, with its jobs and bundles; its runs stay in the history.`, '/projects');
  });

  router.post('/projects/:id/bundles', async (ctx) => {
    const actor = actorOf(ctx)!;
    const id = pathId(ctx);
    await deps.access.writableProject(actor, id);
    try {
      const result = await withUploadedFile(ctx, `${deps.config.dataDir}/tmp`, deps.config.maxBundleBytes, (file) => deps.projects.uploadBundle(actor, id, file));
      const warnings = result.warnings.length ? ` Warnings: ${result.warnings.join(' ')}` : '';
      done(ctx, `Version ${result.bundle.version} is uploaded and current.${warnings}`, `/projects/${id}`);
    } catch (err) {
      const problem = formProblem(err, { file: 'file' });
      await show(ctx, id, undefined, { file: problem.errors.file ?? problem.errors._form ?? 'the upload failed' }, problem.status);
    }
  });
  router.post('/projects/:id/bundles/:bundleId/activate', async (ctx) => {
    const id = pathId(ctx);
    const result = await deps.projects.activateBundle(actorOf(ctx)!, id, pathId(ctx, 'bundleId'));
    const warnings = result.warnings.length ? ` Warnings: ${result.warnings.join(' ')}` : '';
    done(ctx, `Version ${result.bundle.version} is now current; runs in flight finish on theirs.${warnings}`, `/projects/${id}`);
  });
  router.post('/projects/:id/bundles/:bundleId/delete', async (ctx) => {
    const id = pathId(ctx);
    await deps.projects.deleteBundle(actorOf(ctx)!, id, pathId(ctx, 'bundleId'), formOf(ctx).force === 'on');
    done(ctx, 'The bundle version is deleted.', `/projects/${id}`);
  });
}
