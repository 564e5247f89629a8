/**
 * Multipart upload of a bundle: the "file" field streams to a temp file with a size limit (413 past it); nothing
 * is kept in memory and the temp file is always removed.
 */
import Busboy from 'busboy';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Context } from 'koa';
import { badRequest, tooLarge } from '../errors/index.js';

export async function withUploadedFile<T>(ctx: Context, tmpDir: string, maxBytes: number, use: (file: string) => Promise<T>): Promise<T> {
  if (!ctx.is('multipart/form-data')) throw badRequest('upload the bundle as multipart/form-data with a field named "file"', 'file');
  await mkdir(tmpDir, { recursive: true });
  const file = path.join(tmpDir, `upload-${randomUUID()}.zip`);
  try {
    await receive(ctx, file, maxBytes);
    return await use(file);
  } finally {
    await rm(file, { force: true });
  }
}

function receive(ctx: Context, file: string, maxBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let bb: Busboy.Busboy;
    try {
      bb = Busboy({ headers: ctx.req.headers, limits: { fileSize: maxBytes, files: 1, fields: 10 } });
    } catch (err) {
      reject(badRequest(`bad multipart request: ${(err as Error).message}`, 'file'));
      return;
    }
    let saving: Promise<void> | null = null;
    let truncated = false;
    bb.on('file', (name, stream) => {
      if (name !== 'file' || saving) {
        stream.resume();
        return;
      }
      stream.on('limit', () => {
        truncated = true;
      });
      saving = pipeline(stream, createWriteStream(file, { flags: 'wx' }));
    });
    bb.on('error', (err) => reject(badRequest(`bad multipart request: ${(err as Error).message}`, 'file')));
    bb.on('close', () => {
      if (!saving) return reject(badRequest('the multipart request has no field named "file"', 'file'));
      saving.then(
        () => (truncated ? reject(tooLarge(`the bundle is larger than the limit of ${maxBytes} bytes`)) : resolve()),
        (err) => reject(err),
      );
    });
    ctx.req.pipe(bb);
  });
}
