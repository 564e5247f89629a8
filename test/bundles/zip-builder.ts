/**
 * Test helpers that build bundle zips: well-formed ones with yazl, and hand-written bytes for the zips yazl
 * refuses to make ('..' names, absolute names, symlinks, duplicates, lying sizes).
 */
import { createWriteStream } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { crc32, deflateRawSync } from 'node:zlib';
import yazl from 'yazl';

/** name → content; a name ending in '/' is a folder. */
export type FileMap = Record<string, string | Buffer>;

export async function yazlZip(file: string, files: FileMap, modes: Record<string, number> = {}): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) {
    if (name.endsWith('/')) zip.addEmptyDirectory(name);
    else zip.addBuffer(Buffer.from(content), name, modes[name] !== undefined ? { mode: modes[name] } : {});
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
  return file;
}

/** Reads a fixture folder into a FileMap (keeping the executable bit in `modes`). */
export async function readFixture(dir: string): Promise<{ files: FileMap; modes: Record<string, number> }> {
  const files: FileMap = {};
  const modes: Record<string, number> = {};
  async function walk(rel: string): Promise<void> {
    for (const name of await readdir(path.join(dir, rel))) {
      const relName = rel ? `${rel}/${name}` : name;
      const info = await stat(path.join(dir, relName));
      if (info.isDirectory()) await walk(relName);
      else {
        files[relName] = await readFile(path.join(dir, relName));
        modes[relName] = 0o100000 | (info.mode & 0o777);
      }
    }
  }
  await walk('');
  return { files, modes };
}

export interface RawEntry {
  name: string | Buffer;
  data?: Buffer | string;
  /** 0 stored (default), 8 deflate. */
  method?: 0 | 8;
  /** Overrides the uncompressed size written in the headers (to lie). */
  declaredSize?: number;
  /** Unix mode put in the high 16 bits of the external attributes. */
  unixMode?: number;
  crc?: number;
}

/** Writes a zip byte by byte: local headers, central directory, end record. No checks at all. */
export async function rawZip(file: string, entries: RawEntry[]): Promise<string> {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8');
    const data = Buffer.from(e.data ?? '');
    const method = e.method ?? 0;
    const packed = method === 8 ? deflateRawSync(data) : data;
    const size = e.declaredSize ?? data.length;
    const crc = e.crc ?? crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.unixMode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name);
    offset += 30 + name.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  await writeFile(file, Buffer.concat([...locals, cd, end]));
  return file;
}
