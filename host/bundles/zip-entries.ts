/**
 * Checks a zip's central directory before a single byte is extracted. unzipper itself only skips some bad names
 * silently and has no limits (platform-notes §5), so every rule an uploaded zip must follow lives here.
 */
import { tooLarge, unprocessable } from '../errors/index.js';

/** What the central directory says about one entry (a subset of unzipper's entry fields). */
export interface RawZipEntry {
  path: string;
  pathBuffer?: Buffer;
  versionMadeBy: number;
  externalFileAttributes: number;
  uncompressedSize: number;
  compressedSize: number;
  compressionMethod: number;
  flags: number;
}

export interface PlannedEntry {
  /** Normalised relative name: `/` separators, no trailing slash. */
  name: string;
  isDirectory: boolean;
  declaredSize: number;
  /** Unix permission bits to create the file with. */
  mode: number;
  /** Index into the zip's entries. */
  index: number;
}

export interface EntryLimits {
  maxEntries: number;
  maxUnpackedBytes: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MADE_BY_UNIX = 3;

/** Validates every entry and returns the extraction plan, or throws a HostError naming the first bad entry. */
export function planEntries(entries: readonly RawZipEntry[], limits: EntryLimits): PlannedEntry[] {
  if (entries.length > limits.maxEntries) {
    throw tooLarge(`bundle zip has ${entries.length} entries, more than the limit of ${limits.maxEntries}`);
  }
  const plan: PlannedEntry[] = [];
  const seen = new Map<string, boolean>();
  let total = 0;
  entries.forEach((entry, index) => {
    const planned = planEntry(entry, index, limits);
    const earlier = seen.get(planned.name);
    if (earlier !== undefined) {
      throw unprocessable(
        earlier === planned.isDirectory
          ? `bundle zip holds the entry ${quote(planned.name)} more than once`
          : `bundle zip holds ${quote(planned.name)} both as a file and as a folder`,
      );
    }
    seen.set(planned.name, planned.isDirectory);
    total += planned.declaredSize;
    if (total > limits.maxUnpackedBytes) {
      throw tooLarge(
        `bundle unpacks to more than the limit of ${limits.maxUnpackedBytes} bytes (reached at entry ${quote(planned.name)})`,
      );
    }
    plan.push(planned);
  });
  checkFileDirectoryConflicts(plan);
  return plan;
}

function planEntry(entry: RawZipEntry, index: number, limits: EntryLimits): PlannedEntry {
  const raw = entry.path;
  if (raw.includes('\0')) throw unprocessable(`bundle zip entry ${quote(raw)} has a NUL character in its name`);
  const slashed = raw.replace(/\\/g, '/');
  if (slashed === '' || slashed === '/') throw unprocessable(`bundle zip entry #${index + 1} has an empty name`);
  if (slashed.startsWith('/')) throw unprocessable(`bundle zip entry ${quote(raw)} has an absolute path`);
  if (/^[A-Za-z]:/.test(slashed)) throw unprocessable(`bundle zip entry ${quote(raw)} starts with a drive letter`);
  const fileType = unixFileType(entry);
  const isDirectory = slashed.endsWith('/') || fileType === S_IFDIR;
  const name = slashed.endsWith('/') ? slashed.slice(0, -1) : slashed;
  for (const segment of name.split('/')) {
    if (segment === '..') throw unprocessable(`bundle zip entry ${quote(raw)} has a '..' path segment`);
    if (segment === '.') throw unprocessable(`bundle zip entry ${quote(raw)} has a '.' path segment`);
    if (segment === '') throw unprocessable(`bundle zip entry ${quote(raw)} has an empty path segment`);
  }
  if (fileType === S_IFLNK) throw unprocessable(`bundle zip entry ${quote(raw)} is a symbolic link`);
  if (fileType !== 0 && fileType !== S_IFREG && fileType !== S_IFDIR) {
    throw unprocessable(`bundle zip entry ${quote(raw)} is a device, FIFO or socket, not a regular file`);
  }
  if (entry.flags & 0x1) throw unprocessable(`bundle zip entry ${quote(raw)} is encrypted`);
  if (isDirectory && entry.uncompressedSize > 0) {
    throw unprocessable(`bundle zip entry ${quote(raw)} is a directory but declares ${entry.uncompressedSize} bytes of content`);
  }
  if (!isDirectory && entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    throw unprocessable(
      `bundle zip entry ${quote(raw)} uses compression method ${entry.compressionMethod}; only stored (0) and deflate (8) are supported`,
    );
  }
  if (entry.uncompressedSize > limits.maxUnpackedBytes) {
    throw tooLarge(
      `bundle zip entry ${quote(raw)} declares ${entry.uncompressedSize} bytes, more than the limit of ${limits.maxUnpackedBytes}`,
    );
  }
  const executable = ((entry.externalFileAttributes >>> 16) & 0o111) !== 0;
  return { name, isDirectory, declaredSize: entry.uncompressedSize, mode: executable ? 0o755 : 0o644, index };
}

/** The file type bits of a Unix-made entry; 0 when the zip does not say (DOS/Windows tools). */
function unixFileType(entry: RawZipEntry): number {
  const mode = entry.externalFileAttributes >>> 16;
  if (mode === 0) return 0;
  // Attributes are only defined as Unix modes when the "made by" host is Unix; other hosts seldom set the high
  // bits, and a link or device type there is just as unwelcome, so the type is checked either way.
  if (entry.versionMadeBy >> 8 !== MADE_BY_UNIX && (mode & S_IFMT) === 0) return 0;
  return mode & S_IFMT;
}

/** `a` as a file and `a/b` (or `a/`) as an entry cannot both be written; unzipper crashes on it, we refuse it. */
function checkFileDirectoryConflicts(plan: readonly PlannedEntry[]): void {
  const files = new Set(plan.filter((e) => !e.isDirectory).map((e) => e.name));
  for (const entry of plan) {
    const parts = entry.name.split('/');
    const last = entry.isDirectory ? parts.length : parts.length - 1;
    for (let i = 1; i <= last; i++) {
      const dir = parts.slice(0, i).join('/');
      if (files.has(dir)) {
        throw unprocessable(`bundle zip entry ${quote(dir)} is a file but entry ${quote(entry.name)} needs it to be a folder`);
      }
    }
  }
}

export function quote(name: string): string {
  return JSON.stringify(name);
}
