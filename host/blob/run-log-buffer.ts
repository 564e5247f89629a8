/**
 * The capped in-memory view of one run's log: the first half of the cap as the head, the last half as a ring of the
 * most recent lines (the tail), and counters for what fell out of the middle. Memory per run stays under the cap.
 */

/** A single line longer than this share of a half is clipped, so one huge line cannot push everything else out. */
const CLIP_NOTE = (bytes: number) => ` … [+${bytes} bytes]`;

export function cutMarker(bytes: number, lines: number): string {
  return `… [${bytes} bytes / ${lines} lines cut] …`;
}

export class CappedLog {
  private readonly half: number;
  private readonly head: string[] = [];
  private headBytes = 0;
  private headClosed = false;
  /** The tail ring as a queue: lines[tailStart..] are live; compacted now and then instead of shift() per line. */
  private tail: string[] = [];
  private tailSizes: number[] = [];
  /** Bytes each tail line had before clipping, so the cut marker counts what the run really wrote. */
  private tailOriginal: number[] = [];
  private tailStart = 0;
  private tailBytes = 0;
  cutBytes = 0;
  cutLines = 0;
  lineCount = 0;
  bytesAdded = 0;

  constructor(maxBytes: number) {
    this.half = Math.max(1, Math.floor(maxBytes / 2));
  }

  get isCut(): boolean {
    return this.cutLines > 0;
  }

  get isEmpty(): boolean {
    return this.lineCount === 0;
  }

  /** Adds one line (without its newline); returns the line as kept (clipped when longer than half the cap). */
  add(raw: string): string {
    const original = Buffer.byteLength(raw) + 1;
    const line = this.clip(raw, original);
    const size = line === raw ? original : Buffer.byteLength(line) + 1;
    this.lineCount += 1;
    this.bytesAdded += size;
    if (!this.headClosed && this.headBytes + size <= this.half) {
      this.head.push(line);
      this.headBytes += size;
      return line;
    }
    this.headClosed = true;
    this.tail.push(line);
    this.tailSizes.push(size);
    this.tailOriginal.push(original);
    this.tailBytes += size;
    while (this.tailBytes > this.half && this.tailStart < this.tail.length - 1) this.evictOldest();
    return line;
  }

  /** The lines kept right now, in order, without the cut marker. */
  headLines(): readonly string[] {
    return this.head;
  }

  tailLines(): string[] {
    return this.tail.slice(this.tailStart);
  }

  /** The capped text: head, the cut marker when something was cut, tail; every line ends with a newline. */
  text(): string {
    const parts = [...this.head];
    if (this.isCut) parts.push(cutMarker(this.cutBytes, this.cutLines));
    for (let i = this.tailStart; i < this.tail.length; i++) parts.push(this.tail[i]);
    return parts.length === 0 ? '' : parts.join('\n') + '\n';
  }

  private evictOldest(): void {
    this.tailBytes -= this.tailSizes[this.tailStart];
    this.cutBytes += this.tailOriginal[this.tailStart];
    this.cutLines += 1;
    this.tailStart += 1;
    if (this.tailStart > 1024 && this.tailStart * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.tailStart);
      this.tailSizes = this.tailSizes.slice(this.tailStart);
      this.tailOriginal = this.tailOriginal.slice(this.tailStart);
      this.tailStart = 0;
    }
  }

  private clip(line: string, size: number): string {
    if (size <= this.half) return line;
    const keep = Math.max(0, this.half - 64);
    // Cutting bytes may split a UTF-8 sequence; drop the replacement character that leaves at the end.
    const head = Buffer.from(line).subarray(0, keep).toString('utf8').replace(/\uFFFD+$/, '');
    return head + CLIP_NOTE(size - 1 - Buffer.byteLength(head));
  }
}
