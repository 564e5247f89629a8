/**
 * What every console request passes: security headers, the CSRF double-submit cookie (`jc_csrf`, checked against a
 * hidden form field or the X-CSRF-Token header, and the Origin of a POST), the form body reader, and sign-in.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { badRequest, forbidden } from '../../errors/index.js';
import type { Actor } from '../../services/auth.js';
import { bodyText } from '../middleware.js';

export const CSRF_COOKIE = 'jc_csrf';
export const CSRF_FIELD = '_csrf';
const FORM_LIMIT = 1024 * 1024;

/** No inline script or style anywhere: every script and stylesheet is a file under /assets/. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function securityHeaders(ctx: Context): void {
  ctx.set('Content-Security-Policy', CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'same-origin');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
}

/** The request's CSRF token: the cookie's, or a new one set now (HttpOnly: the page carries it in its forms). */
export function csrfToken(ctx: Context): string {
  const existing = ctx.state.csrf as string | undefined;
  if (existing) return existing;
  let token = ctx.cookies.get(CSRF_COOKIE);
  if (!token || !/^[A-Za-z0-9_-]{32,64}$/.test(token)) {
    token = randomBytes(24).toString('base64url');
    ctx.cookies.set(CSRF_COOKIE, token, { httpOnly: true, sameSite: 'strict', overwrite: true });
  }
  ctx.state.csrf = token;
  return token;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function originOf(referer: string): string {
  if (!referer) return '';
  try {
    return new URL(referer).origin;
  } catch {
    return 'an unreadable Referer';
  }
}

/**
 * A POST must come from this origin (Origin, else Referer, when the browser sends one) and carry the cookie's token
 * in the form, the X-CSRF-Token header, or (multipart uploads, whose fields the upload reader skips) the query.
 */
export function checkCsrf(ctx: Context, form: Record<string, string>): void {
  // Not ctx.origin: koa 3 answers it from the request's Origin header.
  const own = `${ctx.protocol}://${ctx.host}`;
  const origin = ctx.get('origin') || originOf(ctx.get('referer'));
  if (origin && origin !== own) throw forbidden(`this form was sent from another site (${origin}); open the console at ${own}`);
  const cookie = ctx.cookies.get(CSRF_COOKIE) ?? '';
  const sent = form[CSRF_FIELD] ?? ctx.get('x-csrf-token') ?? '';
  const fromQuery = typeof ctx.query[CSRF_FIELD] === 'string' ? (ctx.query[CSRF_FIELD] as string) : '';
  const token = sent || fromQuery;
  if (!cookie || !token || !same(cookie, token)) {
    throw forbidden('the form is out of date or was not sent by this console (its CSRF token does not match); reload the page and send it again');
  }
}

/** A url-encoded form body (up to 1 MiB); a field given twice keeps its last value. */
export async function readForm(ctx: Context): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) return {};
  const form: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(await bodyText(ctx, FORM_LIMIT))) {
    if (value.includes('\u0000')) throw badRequest(`${key} must not contain NUL`, key);
    form[key] = value;
  }
  return form;
}

export function actorOf(ctx: Context): Actor | undefined {
  return ctx.state.actor as Actor | undefined;
}

/** Pages need a signed-in user: without one, the login page, which comes back here after. */
export async function requireSignIn(ctx: Context, next: Next): Promise<void> {
  if (actorOf(ctx)) return next();
  if (ctx.method === 'GET') {
    const back = ctx.originalUrl === '/' ? '' : `?next=${encodeURIComponent(ctx.originalUrl)}`;
    ctx.redirect(`/login${back}`);
    return;
  }
  ctx.status = 401;
  ctx.type = 'text/plain';
  ctx.body = 'sign in first: /login';
}
