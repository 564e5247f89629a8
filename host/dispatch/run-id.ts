/**
 * Run ids: UUID version 7 (RFC 9562), a millisecond timestamp ahead of random bits, so the ids a host makes sort by
 * the time they were made. The runs table is keyed by runId: with random (v4) keys every insert lands on a random
 * page of InnoDB's clustered index and of each secondary index (they all carry the key), and MariaDB fell behind
 * 10,000 every-second jobs as the table grew; time-ordered keys append at the end of each index instead.
 *
 * Within one millisecond the 12 bits after the version are a counter started at a random value below 2,048
 * (RFC 9562 §6.2, method 1), so the ids of one host are strictly increasing; past 4,095 the timestamp steps on by one.
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes drawn 4,000 at a time: one randomFillSync per 400 ids (10 bytes each: a counter seed, 62 bits). */
const pool = Buffer.alloc(4000);
let poolAt = pool.length;
let lastMs = -1;
let counter = 0;
/** The id is spelled here, then read as one flat string (concatenation would leave a rope of 20 pieces per id). */
const text = Buffer.from('00000000-0000-7000-8000-000000000000', 'latin1');
const DIGITS = Buffer.from('0123456789abcdef', 'latin1');

export function newRunId(now: number = Date.now()): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += 10;
  if (now > lastMs) {
    lastMs = now;
    counter = ((pool[r]! << 8) | pool[r + 1]!) & 0x7ff;
  } else if (++counter > 0xfff) {
    // 4,096 ids in one millisecond, or the clock went back: borrow from the next millisecond, keeping the order.
    lastMs++;
    counter = 0;
  }
  // unix_ts_ms (48 bits): the high 16 bits and the low 32 bits, as 12 hex digits.
  const high = Math.floor(lastMs / 0x1_0000_0000);
  const low = lastMs - high * 0x1_0000_0000;
  hex(0, high >>> 8);
  hex(2, high & 0xff);
  hex(4, low >>> 24);
  hex(6, (low >>> 16) & 0xff);
  hex(9, (low >>> 8) & 0xff);
  hex(11, low & 0xff);
  // ver (7) and the counter, var (10) and 62 random bits.
  hex(14, 0x70 | (counter >> 8));
  hex(16, counter & 0xff);
  hex(19, 0x80 | (pool[r + 2]! & 0x3f));
  hex(21, pool[r + 3]!);
  for (let i = 0; i < 6; i++) hex(24 + 2 * i, pool[r + 4 + i]!);
  return text.toString('latin1', 0, 36);
}

function hex(at: number, byte: number): void {
  text[at] = DIGITS[byte >> 4]!;
  text[at + 1] = DIGITS[byte & 0xf]!;
}
