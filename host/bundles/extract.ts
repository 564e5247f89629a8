/**
 * Safe extraction of a bundle zip into an empty staging folder. Never `unzipper.Extract` or
 * `directory.extract()`: a zip holding `a` and `a/b` makes them throw inside an async write, an unhandled
 * rejection that ends the process (platform-notes §5). Here every entry is checked first, then each file is
 * streamed through a byte limiter (declared sizes can lie) and a CRC check into a file created with 'wx'.
 * unzipper only reads the central directory: the entry data is read with our own streams, so a refused entry
 * destroys every stream (and file descriptor) it used instead of leaving unzipper's internal ones paused.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import type unzipperModule from 'unzipper';
import type { File as ZipFile } from 'unzipper';
import { HostError, unprocessable } from '../errors/index.js';
import { planEntries, quote } from './zip-entries.js';
import type { EntryLimits, PlannedEntry } from './zip-entries.js';

const LOCAL_HEADER_SIGNATURE = 0x04034b50;

/**
 * unzipper, loaded so that the process keeps its Error.stackTraceLimit: its bluebird raises the limit by 6 for good
 * when it loads, which an application embedding the host would see in every stack trace of its own.
 */
const unzipper = ((): typeof unzipperModule => {
  const limit = Error.stackTraceLimit;
  try {
    return createRequire(import.meta.url)('unzipper') as typeof unzipperModule;
  } finally {
    Error.stackTraceLimit = limit;
  }
})();

/** Extracts zipPath into dest (which must be a fresh, empty folder). Rejects with a HostError naming the entry. */
export async function extractZip(zipPath: string, dest: string, limits: EntryLimits): Promise<void> {
  const files = await readDirectory(zipPath);
  const plan = planEntries(files, limits);
  for (const entry of plan.filter((e) => e.isDirectory)) {
    await mkdir(path.join(dest, entry.name), { recursive: true, mode: 0o755 });
  }
  const zip = await open(zipPath, 'r');
  try {
    for (const entry of plan.filter((e) => !e.isDirectory)) {
      const file = files[entry.index];
      if (!file) throw new HostError('INTERNAL', `zip entry #${entry.index} vanished`);
      await extractFile(zipPath, zip, file, entry, dest);
    }
  } finally {
    await zip.close();
  }
}

async function readDirectory(zipPath: string): Promise<ZipFile[]> {
  try {
    const directory = await unzipper.Open.file(zipPath);
    return directory.files;
  } catch (err) {
    throw unprocessable(`bundle is not a readable zip file: ${messageOf(err)}`);
  }
}

async function extractFile(zipPath: string, zip: FileHandle, file: ZipFile, entry: PlannedEntry, dest: string) {
  const target = path.join(dest, entry.name);
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  try {
    const start = await dataOffset(zip, file, entry);
    const check = new EntryCheck(entry, file.crc32);
    const out = createWriteStream(target, { flags: 'wx', mode: entry.mode });
    // createReadStream with end < start would read to the end of the zip, so an entry without data gets none.
    const input =
      file.compressedSize > 0
        ? createReadStream(zipPath, { start, end: start + file.compressedSize - 1 })
        : Readable.from([]);
    if (file.compressionMethod === 8 && file.compressedSize > 0) await pipeline(input, createInflateRaw(), check, out);
    else await pipeline(input, check, out);
  } catch (err) {
    if (err instanceof HostError) throw err;
    throw unprocessable(`bundle zip entry ${quote(entry.name)} could not be extracted: ${messageOf(err)}`);
  }
}

/** Where an entry's data starts: after its local header, whose name and extra field lengths may differ. */
async function dataOffset(zip: FileHandle, file: ZipFile, entry: PlannedEntry): Promise<number> {
  const header = Buffer.alloc(30);
  const { bytesRead } = await zip.read(header, 0, 30, file.offsetToLocalFileHeader);
  if (bytesRead < 30 || header.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
    throw unprocessable(`bundle zip entry ${quote(entry.name)} is corrupt (no local file header at its offset)`);
  }
  return file.offsetToLocalFileHeader + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
}

/** Counts bytes against the declared size (refusing the first byte past it) and checks the CRC at the end. */
class EntryCheck extends Transform {
  private bytes = 0;
  private crc = 0;

  constructor(
    private readonly entry: PlannedEntry,
    private readonly expectedCrc: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.entry.declaredSize) {
      cb(
        unprocessable(
          `bundle zip entry ${quote(this.entry.name)} unpacks to more than its declared ${this.entry.declaredSize} bytes`,
        ),
      );
      return;
    }
    this.crc = crc32(chunk, this.crc);
    cb(null, chunk);
  }

  override _flush(cb: (err?: Error | null) => void): void {
    if (this.bytes !== this.entry.declaredSize) {
      cb(
        unprocessable(
          `bundle zip entry ${quote(this.entry.name)} unpacks to ${this.bytes} bytes, not its declared ${this.entry.declaredSize}`,
        ),
      );
      return;
    }
    if (this.crc >>> 0 !== this.expectedCrc >>> 0) {
      cb(unprocessable(`bundle zip entry ${quote(this.entry.name)} is corrupt (checksum mismatch)`));
      return;
    }
    cb();
  }
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
