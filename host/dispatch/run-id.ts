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

const DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * The run ids of one host (its dispatcher holds one): the clock, counter and random pool are its own, so two hosts
 * embedded in one process share no state.
 */
export class RunIds {
  /** Random bytes drawn 4,000 at a time: one randomFillSync per 400 ids (10 bytes each: a counter seed, 62 bits). */
  readonly #pool = Buffer.alloc(4000);
  #poolAt = this.#pool.length;
  #lastMs = -1;
  #counter = 0;
  /** The id is spelled here, then read as one flat string (concatenation would leave a rope of 20 pieces per id). */
  readonly #text = Buffer.from('00000000-0000-7000-8000-000000000000', 'latin1');

  next(now: number = Date.now()): string {
    const pool = this.#pool;
    if (this.#poolAt === pool.length) {
      randomFillSync(pool);
      this.#poolAt = 0;
    }
    const r = this.#poolAt;
    this.#poolAt += 10;
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#counter = ((pool[r]! << 8) | pool[r + 1]!) & 0x7ff;
    } else if (++this.#counter > 0xfff) {
      // 4,096 ids in one millisecond, or the clock went back: borrow from the next millisecond, keeping the order.
      this.#lastMs++;
      this.#counter = 0;
    }
    const text = this.#text;
    // unix_ts_ms (48 bits): the high 16 bits and the low 32 bits, as 12 hex digits.
    const high = Math.floor(this.#lastMs / 0x1_0000_0000);
    const low = this.#lastMs - high * 0x1_0000_0000;
    hex(text, 0, high >>> 8);
    hex(text, 2, high & 0xff);
    hex(text, 4, low >>> 24);
    hex(text, 6, (low >>> 16) & 0xff);
    hex(text, 9, (low >>> 8) & 0xff);
    hex(text, 11, low & 0xff);
    // ver (7) and the counter, var (10) and 62 random bits.
    hex(text, 14, 0x70 | (this.#counter >> 8));
    hex(text, 16, this.#counter & 0xff);
    hex(text, 19, 0x80 | (pool[r + 2]! & 0x3f));
    hex(text, 21, pool[r + 3]!);
    for (let i = 0; i < 6; i++) hex(text, 24 + 2 * i, pool[r + 4 + i]!);
    return text.toString('latin1', 0, 36);
  }
}

function hex(text: Buffer, at: number, byte: number): void {
  text[at] = DIGITS[byte >> 4]!;
  text[at + 1] = DIGITS[byte & 0xf]!;
}
