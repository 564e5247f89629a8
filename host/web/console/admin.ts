/** Users (admins), one's own account and API tokens, the audit events, and the hosts. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import os from 'node:os';
import { HOST_VERSION } from '../../config/index.js';
import { EVENT_ENTITIES, type JobEventRecord } from '../../domain/index.js';
import { assertAdmin } from '../../services/access.js';
import { publicUser, ROLES } from '../../services/auth.js';
import { SESSION_COOKIE } from '../middleware.js';
import { presentRun } from '../present.js';
import { pathId, queryOf } from '../routes/request.js';
import { actorOf } from './guard.js';
import { formOf, type ConsoleContext } from './context.js';
import { done, formProblem, utcQuery } from './page.js';

const EVENT_FILTERS = ['entity', 'entityId', 'jobId', 'projectId', 'actor', 'from', 'to', 'beforeId'] as const;
const EVENT_PAGE = 100;

/** Where the thing an event is about is shown. */
function eventLink(e: JobEventRecord): string | null {
  if (e.entity === 'job' && e.jobId) return `/jobs/${e.jobId}`;
  if ((e.entity === 'project' || e.entity === 'bundle') && e.projectId) return `/projects/${e.projectId}`;
  if (e.entity === 'user') return '/users';
  return null;
}

const USER_FIELDS = { username: 'username', password: 'password', role: 'role', disabled: 'disabled' };

export function mountAdminPages(router: Router, { deps, pages }: ConsoleContext): void {
  const users = async (ctx: Context, form: Record<string, string> = { role: 'developer' }, errors: Record<string, string> = {}, status = 200): Promise<void> => {
    const actor = actorOf(ctx)!;
    if (actor.role !== 'admin') {
      pages.show(ctx, 'users', 'Users', { notAdmin: true });
      return;
    }
    const list = (await deps.auth.listUsers()).map((u) => ({ ...publicUser(u), self: u.id === actor.id }));
    pages.show(ctx, 'users', 'Users', { users: list, roles: ROLES, form, errors }, status);
  };
  router.get('/users', (ctx) => users(ctx));
  router.post('/users', async (ctx) => {
    const actor = actorOf(ctx)!;
    assertAdmin(actor);
    const form = formOf(ctx);
    try {
      const user = await deps.auth.createUser(actor, { username: form.username, password: form.password, role: form.role });
      done(ctx, `User ${user.username} is created as ${user.role}.`, '/users');
    } catch (err) {
      const problem = formProblem(err, USER_FIELDS);
      await users(ctx, { username: form.username ?? '', role: form.role ?? 'developer' }, problem.errors, problem.status);
    }
  });
  router.post('/users/:id', async (ctx) => {
    const actor = actorOf(ctx)!;
    assertAdmin(actor);
    const id = pathId(ctx);
    const form = formOf(ctx);
    const patch: Record<string, unknown> = {};
    if (form.role) patch.role = form.role;
    if (form.disabled === '1' || form.disabled === '0') patch.disabled = form.disabled === '1';
    if (form.password) patch.password = form.password;
    try {
      const user = await deps.auth.updateUser(actor, id, patch, id === actor.id ? ctx.cookies.get(SESSION_COOKIE) : undefined);
      const what = patch.password ? 'has a new password (their sessions and tokens are revoked)' : patch.disabled === true ? 'is disabled' : patch.disabled === false ? 'is enabled' : `is ${user.role}`;
      done(ctx, `User ${user.username} ${what}.`, '/users');
    } catch (err) {
      const problem = formProblem(err, {});
      done(ctx, `Not changed: ${Object.values(problem.errors)[0]}`, '/users');
    }
  });

  router.post('/users/:id/delete', async (ctx) => {
    const actor = actorOf(ctx)!;
    assertAdmin(actor);
    try {
      await deps.auth.deleteUser(actor, pathId(ctx));
      done(ctx, 'The user is deleted; their sessions and API tokens are revoked.', '/users');
    } catch (err) {
      done(ctx, `Not deleted: ${Object.values(formProblem(err, {}).errors)[0]}`, '/users');
    }
  });

  const account = async (ctx: Context, extra: Record<string, unknown> = {}, status = 200): Promise<void> => {
    const tokens = (await deps.auth.listApiTokens(actorOf(ctx)!)).map(({ tokenHash: _hash, ...t }) => t);
    pages.show(ctx, 'account', 'Your account', { section: '', tokens, errors: {}, form: {}, ...extra }, status);
  };
  router.get('/account', (ctx) => account(ctx));
  router.post('/account/tokens', async (ctx) => {
    const form = formOf(ctx);
    const ttl = form.ttlDays?.trim() ? Number(form.ttlDays) : undefined;
    try {
      const { token, record } = await deps.auth.createApiToken(actorOf(ctx)!, form.name, ttl);
      await account(ctx, { created: { name: record.name, token } }, 201);
    } catch (err) {
      const problem = formProblem(err, { name: 'name', ttlDays: 'ttlDays' });
      await account(ctx, { form, errors: problem.errors }, problem.status);
    }
  });
  router.post('/account/tokens/:id/delete', async (ctx) => {
    await deps.auth.deleteToken(actorOf(ctx)!, pathId(ctx));
    done(ctx, 'The token is revoked; scripts using it get 401 from now on.', '/account');
  });

  router.get('/events', async (ctx) => {
    const q = queryOf(ctx);
    const query: Record<string, string | undefined> = { limit: String(EVENT_PAGE) };
    for (const key of EVENT_FILTERS) if (q[key]) query[key] = key === 'from' || key === 'to' ? utcQuery(q[key]) : q[key];
    const events = await deps.events.list(actorOf(ctx)!, query);
    const keep = Object.fromEntries(EVENT_FILTERS.filter((k) => k !== 'beforeId' && q[k]).map((k) => [k, q[k]!]));
    const last = events.at(-1);
    pages.show(ctx, 'events', 'Events', {
      events: events.map((e) => ({ ...e, link: eventLink(e), runId: typeof e.details?.runId === 'string' ? e.details.runId : null, detailsText: e.details ? JSON.stringify(e.details) : '' })),
      q,
      entities: EVENT_ENTITIES,
      filtered: Object.keys(keep).length > 0 || Boolean(q.beforeId),
      older: events.length === EVENT_PAGE && last ? `/events?${new URLSearchParams({ ...keep, beforeId: String(last.id) })}` : null,
      newest: q.beforeId ? `/events?${new URLSearchParams(keep)}` : null,
    });
  });

  router.get('/hosts', async (ctx) => {
    const actor = actorOf(ctx)!;
    const info = deps.hostInfo() as { id: string; startedAt: Date | string; db: string; scheduledJobs: number; activeRuns: number; pid: number; pools: Record<string, number | string> };
    const running = await deps.runs.list(actor, { status: 'RUNNING,QUEUED', limit: '50' });
    const started = new Date(info.startedAt);
    const memory = process.memoryUsage();
    pages.show(ctx, 'hosts', 'Hosts', {
      hosts: [
        {
          ...info,
          version: HOST_VERSION,
          hostname: os.hostname(),
          uptimeMs: Date.now() - started.getTime(),
          load: os.loadavg().map((n) => n.toFixed(2)).join(' · '),
          cpus: os.cpus().length,
          rssBytes: memory.rss,
          heapBytes: memory.heapUsed,
          node: process.version,
          runs: running.items.filter((r) => r.host === info.id).map(presentRun),
        },
      ],
    });
  });
}
