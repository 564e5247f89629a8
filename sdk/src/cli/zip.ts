/**
 * Writes bundle zips: sorted entries, a fixed time (so the same content gives the same bytes and the host sees no
 * new version), and Unix modes kept (the executable bit is what lets the host run `./run.sh`).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import type { Stats } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';

const FIXED_MTIME = new Date(2020, 0, 1);

/** One zip entry: a file on disk or bytes. */
export type Entry = { readonly name: string; readonly path: string } | { readonly name: string; readonly data: Buffer; readonly mode?: number };

export interface ZipInfo {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly entries: string[];
}

/** Writes `entries` to `out` (atomically: a partial file renamed at the end) and returns its size and sha256. */
export async function writeZip(entries: Entry[], out: string): Promise<ZipInfo> {
  const zip = new yazl.ZipFile();
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of sorted) {
    if ('data' in entry) {
      zip.addBuffer(entry.data, entry.name, { mtime: FIXED_MTIME, mode: entry.mode ?? 0o100644 });
      continue;
    }
    const executable = ((await stat(entry.path)).mode & 0o111) !== 0;
    zip.addFile(entry.path, entry.name, { mtime: FIXED_MTIME, mode: executable ? 0o100755 : 0o100644 });
  }
  zip.end();
  await mkdir(dirname(out), { recursive: true });
  const partial = `${out}.${process.pid}.partial`;
  await pipeline(zip.outputStream, createWriteStream(partial));
  await rename(partial, out);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(out)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { path: out, size, sha256: hash.digest('hex'), entries: sorted.map((e) => e.name) };
}

/**
 * Regular files under `dir` as entries named `<prefix>/<relative path>`; `skip(rel, isDir)` leaves out a file or a
 * whole folder. Symlinks to files are followed (npm links), dot files are kept only when `skip` allows them.
 */
export async function filesUnder(dir: string, prefix: string, skip: (rel: string, isDir: boolean) => boolean = () => false): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const full = join(dir, childRel);
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await statSafe(full))?.isDirectory() === true);
      if (skip(childRel, isDir)) continue;
      if (isDir) await walk(childRel);
      else if (entry.isFile() || (entry.isSymbolicLink() && (await statSafe(full))?.isFile())) {
        out.push({ name: prefix ? `${prefix}/${childRel}` : childRel, path: full });
      }
    }
  };
  await walk('');
  return out;
}

function statSafe(path: string): Promise<Stats | null> {
  return stat(path).catch(() => null);
}
