/**
 * A browser-less client of the web console: keeps its cookies (session, CSRF), reads a page's CSRF token and posts
 * forms as a browser would, with the Origin header a browser sends.
 */
import { request } from 'node:http';

export interface Page {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
}

export class ConsoleClient {
  private readonly cookies = new Map<string, string>();

  constructor(readonly url: string) {}

  static async signIn(url: string, username: string, password: string): Promise<ConsoleClient> {
    const client = new ConsoleClient(url);
    const res = await client.form('/login', { username, password });
    if (res.status !== 302) throw new Error(`console sign-in as ${username} failed: ${res.status} ${res.text.slice(0, 300)}`);
    return client;
  }

  get csrf(): string | undefined {
    return this.cookies.get('jc_csrf');
  }

  async get(path: string): Promise<Page> {
    return this.send('GET', path);
  }

  /** POSTs a form with the CSRF token of this client's cookie (fetching a page first to get one), unless `csrf` says otherwise. */
  async form(path: string, fields: Record<string, string>, opts: { csrf?: string | null; origin?: string | null } = {}): Promise<Page> {
    if (!this.csrf) await this.get('/login');
    const token = opts.csrf === undefined ? this.csrf! : opts.csrf;
    const body = new URLSearchParams({ ...fields, ...(token === null ? {} : { _csrf: token }) }).toString();
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (opts.origin !== null) headers.origin = opts.origin ?? this.url;
    return this.send('POST', path, body, headers);
  }

  /** node:http, not fetch: fetch does not send the Origin header a test sets. */
  private send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Page> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = request(`${this.url}${path}`, { method, headers: { ...headers, ...(cookie ? { cookie } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          for (const line of res.headers['set-cookie'] ?? []) {
            const [pair] = line.split(';');
            const at = pair!.indexOf('=');
            const name = pair!.slice(0, at);
            const value = pair!.slice(at + 1);
            if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
            else this.cookies.set(name, value);
          }
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
          resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8'), location: res.headers.location ?? null });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
