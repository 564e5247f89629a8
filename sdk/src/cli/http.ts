/**
 * A small client for the host's REST API: JSON in and out, and the host's `{ error: { code, message } }` turned
 * into a CliError carrying that message.
 */
import { CliError } from './args.js';

export class HostClient {
  constructor(
    readonly host: string,
    private readonly token: string | null,
  ) {}

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.send<T>(method, path, body === undefined ? undefined : JSON.stringify(body), headers);
  }

  async upload<T>(path: string, file: Buffer, filename: string): Promise<T> {
    const form = new FormData();
    form.append('file', new Blob([file], { type: 'application/zip' }), filename);
    return this.send<T>('POST', path, form, {});
  }

  private async send<T>(method: string, path: string, body: string | FormData | undefined, headers: Record<string, string>): Promise<T> {
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.host}${path}`, { method, headers, body, signal: AbortSignal.timeout(120_000) });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      throw new CliError(`cannot reach ${this.host}: ${cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    const parsed = parseJson(text);
    if (!res.ok) throw new CliError(`${method} ${path} failed: ${res.status} ${errorMessage(parsed, text, res.statusText)}`);
    return parsed as T;
  }
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    return text;
  }
}

function errorMessage(parsed: unknown, text: string, statusText: string): string {
  const error = (parsed as { error?: { message?: unknown; code?: unknown } } | null)?.error;
  if (error && typeof error.message === 'string') return `${error.message}${typeof error.code === 'string' ? ` (${error.code})` : ''}`;
  return text.slice(0, 300) || statusText;
}
