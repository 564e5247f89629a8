/**
 * The fetch an isolate job gets with a `grants.fetch`: performed by the host (Node's global fetch), limited to
 * http(s), to the granted hosts (every redirect hop is checked too), to a response size, and to the run's life.
 */
import type { FetchBridge, FetchInit, FetchReply } from './isolate-protocol.js';

const MAX_REDIRECTS = 5;
const MAX_BODY_BYTES = 5 * 1024 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** `grant` is true (any host) or the allowed `host` / `host:port` names. */
export function createHostFetch(grant: boolean | readonly string[], runSignal: AbortSignal): FetchBridge {
  const allowed = grant === true ? null : new Set((grant || []).map((h) => h.toLowerCase()));
  return async (rawUrl: unknown, init?: FetchInit): Promise<FetchReply> => {
    let url = checkUrl(String(rawUrl), allowed);
    let method = (init?.method ?? 'GET').toUpperCase();
    let body = init?.body;
    for (let hop = 0; ; hop++) {
      const res = await fetch(url, { method, headers: init?.headers, body, redirect: 'manual', signal: runSignal });
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || !location) return reply(res, url, hop > 0);
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new Error(`fetch ${url.href}: more than ${MAX_REDIRECTS} redirects`);
      url = checkUrl(new URL(location, url).href, allowed);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
    }
  };
}

function checkUrl(raw: string, allowed: ReadonlySet<string> | null): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`fetch: invalid URL ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`fetch: only http and https URLs are allowed, not ${url.protocol}`);
  if (allowed && !allowed.has(url.hostname.toLowerCase()) && !allowed.has(url.host.toLowerCase())) {
    throw Object.assign(new Error(`fetch: host ${url.host} is not in this job's fetch grant`), { code: 'FETCH_NOT_ALLOWED' });
  }
  return url;
}

async function reply(res: Response, url: URL, redirected: boolean): Promise<FetchReply> {
  return {
    status: res.status,
    statusText: res.statusText,
    url: url.href,
    redirected,
    headers: [...res.headers.entries()],
    body: await readCapped(res, url),
  };
}

async function readCapped(res: Response, url: URL): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      await res.body.cancel().catch(() => undefined);
      throw new Error(`fetch ${url.href}: response larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
