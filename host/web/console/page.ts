/** How a console handler answers: a page in the layout, a redirect with a notice, or a form shown again with its errors. */
import type { Context } from 'koa';
import { HostError } from '../../errors/index.js';
import type { Actor } from '../../services/auth.js';
import { actorOf, csrfToken } from './guard.js';
import type { Views } from './render.js';

const FLASH_COOKIE = 'jc_flash';

/** The sections of the navigation bar, in order. */
const NAV = [
  { id: 'dashboard', href: '/', label: 'Dashboard' },
  { id: 'projects', href: '/projects', label: 'Projects' },
  { id: 'jobs', href: '/jobs', label: 'Jobs' },
  { id: 'runs', href: '/runs', label: 'Runs' },
  { id: 'events', href: '/events', label: 'Events' },
  { id: 'users', href: '/users', label: 'Users' },
  { id: 'hosts', href: '/hosts', label: 'Hosts' },
];

export function canWrite(actor: Actor | undefined): boolean {
  return actor !== undefined && actor.role !== 'viewer';
}

export class Pages {
  constructor(private readonly views: Views) {}

  show(ctx: Context, page: string, title: string, data: Record<string, unknown> = {}, status = 200): void {
    const actor = actorOf(ctx);
    const flash = ctx.cookies.get(FLASH_COOKIE);
    if (flash) ctx.cookies.set(FLASH_COOKIE, null);
    const section = (data.section as string | undefined) ?? page.split('-')[0];
    const nav = actor ? NAV.map((item) => ({ ...item, current: item.id === section })) : [];
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = this.views.render(page, {
      ...data,
      title,
      actor,
      isAdmin: actor?.role === 'admin',
      canWrite: canWrite(actor),
      csrf: csrfToken(ctx),
      nav,
      flash: flash ? decodeURIComponent(flash).slice(0, 300) : null,
    });
  }
}

/** A notice for the next page the browser opens (after a redirect). */
export function flash(ctx: Context, text: string): void {
  ctx.cookies.set(FLASH_COOKIE, encodeURIComponent(text), { httpOnly: true, sameSite: 'strict', overwrite: true });
}

/**
 * After a POST: a notice and a redirect. A script's request (X-Requested-With, e.g. the upload with its progress
 * bar) gets where to go as JSON instead, so that the notice is left for the page it opens.
 */
export function done(ctx: Context, text: string, to: string): void {
  flash(ctx, text);
  if (ctx.get('x-requested-with')) {
    ctx.body = { location: to };
    return;
  }
  ctx.redirect(to);
}

/** The HTTP status the REST API gives an error (the console answers with the same). */
export const REFUSAL_STATUS: Record<string, number> = { BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409, TOO_LARGE: 413, UNPROCESSABLE: 422, TOO_MANY_REQUESTS: 429 };

export interface FormProblem {
  status: number;
  /** Messages by form field; `_form` for one that names no field of the form. */
  errors: Record<string, string>;
}

/**
 * A refusal a form can show next to its field; `fields` maps the service's field names (schedule.cron) to the
 * form's (cron). Anything that is not a refusal (a 500, the database down) is thrown on.
 */
export function formProblem(err: unknown, fields: Record<string, string> = {}): FormProblem {
  if (!(err instanceof HostError) || !(err.code in REFUSAL_STATUS)) throw err;
  const field = (err.details as { field?: unknown } | undefined)?.field;
  let name = '_form';
  if (typeof field === 'string') {
    // entry[2] → entry; config.some.key → config.* ; schedule.cron → schedule.cron
    const root = field.replace(/\[\d+\]$/, '');
    name = fields[root] ?? fields[`${root.split('.')[0]}.*`] ?? '_form';
  }
  return { status: REFUSAL_STATUS[err.code]!, errors: { [name]: err.message } };
}

/** `<input type=datetime-local>` gives local wall time without a zone; the console reads and shows UTC. */
export function utcQuery(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value) ? `${value}${value.length === 16 ? ':00' : ''}Z` : value;
}
