/**
 * The host's HTTP server. It is bound before anything else starts, so a host that cannot listen fails before it
 * opens its database or touches a job (a host that recovered runs and fired jobs with no API to reach it was the
 * alternative). Until the app is handed over every request gets 503, /healthz included: nothing reaches the
 * services while recovery runs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface BoundServer {
  /** Where the host serves, with the port the kernel chose when asked for port 0. */
  readonly url: string;
  /** From now on the app answers every request. */
  serve(app: Koa): void;
  /** Stops listening and drops open connections; later calls wait for the first. */
  close(): Promise<void>;
}

const HINTS: Record<string, string> = {
  EADDRINUSE: 'another process listens there (another host?); stop it or choose another --port',
  EACCES: 'permission denied; ports below 1024 need privileges',
  EADDRNOTAVAIL: "the address is not one of this machine's; check --bind",
};

export async function bindServer(opts: { port: number; bind: string; hostId: string }): Promise<BoundServer> {
  let handle: http.RequestListener = (req, res) => notReady(req, res, opts.hostId);
  const srv = http.createServer((req, res) => handle(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(opts.port, opts.bind, () => resolve());
    });
  } catch (err) {
    throw listenError(err, opts.bind, opts.port);
  }
  const address = srv.address() as AddressInfo;
  const shown = opts.bind === '0.0.0.0' || opts.bind === '::' ? 'localhost' : opts.bind;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shown}:${address.port}`,
    serve(app) {
      handle = app.callback();
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      });
      return closing;
    },
  };
}

function notReady(req: http.IncomingMessage, res: http.ServerResponse, hostId: string): void {
  const health = (req.url ?? '').split('?')[0] === '/healthz';
  const body = health
    ? { status: 'unavailable', host: hostId }
    : { error: { code: 'UNAVAILABLE', message: 'the host is starting; try again in a moment' } };
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
  res.end(JSON.stringify(body));
}

function listenError(err: unknown, bind: string, port: number): Error {
  const code = (err as { code?: unknown }).code;
  const why = typeof code === 'string' ? `${code}: ${HINTS[code] ?? (err as Error).message}` : String(err);
  return Object.assign(new Error(`cannot listen on ${bind}:${port}: ${why}`), { code });
}
