/**
 * A small client for the host's REST API: JSON in and out, and the host's `{ error: { code, message } }` turned
 * into a CliError carrying that message.
 */
import { CliError } from './args.js';

/** The host answered with an error status: `status` lets a command say what to do about a 401, 403 or 404. */
export class HostError extends CliError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

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

  /**
   * A text answer handed to `onText` piece by piece as it arrives (a followed log). No timeout: a followed log
   * lasts as long as its run.
   */
  async stream(path: string, onText: (text: string) => void): Promise<void> {
    const res = await this.fetchOk('GET', path, undefined, {}, undefined);
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) onText(decoder.decode(chunk as Uint8Array, { stream: true }));
    onText(decoder.decode());
  }

  private async send<T>(method: string, path: string, body: string | FormData | undefined, headers: Record<string, string>): Promise<T> {
    const res = await this.fetchOk(method, path, body, headers, AbortSignal.timeout(120_000));
    return parseJson(await res.text()) as T;
  }

  private async fetchOk(method: string, path: string, body: string | FormData | undefined, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Response> {
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.host}${path}`, { method, headers, body, signal });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      throw new CliError(`cannot reach ${this.host}: ${cause?.message ?? (err as Error).message}`);
    }
    if (res.ok) return res;
    const text = await res.text();
    throw new HostError(`${method} ${path} failed: ${res.status} ${errorMessage(parseJson(text), text, res.statusText)}`, res.status);
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
