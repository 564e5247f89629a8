/** Builds bundle zips in memory for tests. */
import yazl from 'yazl';

export type Files = Record<string, string | Buffer | { data: string | Buffer; mode: number }>;

export function zip(files: Files): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [name, value] of Object.entries(files)) {
    if (typeof value === 'string' || Buffer.isBuffer(value)) z.addBuffer(Buffer.from(value), name);
    else z.addBuffer(Buffer.from(value.data), name, { mode: value.mode });
  }
  z.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    z.outputStream.on('data', (c: Buffer) => chunks.push(c));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    z.outputStream.on('error', reject);
  });
}

/** A thread bundle whose main module is `code` (ESM). */
export function threadBundle(code: string, extra: Files = {}, name = 'fixture'): Promise<Buffer> {
  return zip({
    'jobcenter.json': JSON.stringify({ name, version: '1.0.0', main: 'index.js', kind: 'thread' }),
    'package.json': JSON.stringify({ type: 'module' }),
    'index.js': code,
    ...extra,
  });
}
