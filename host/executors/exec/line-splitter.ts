/**
 * Splits a child's output stream into lines without holding more than one bounded partial line: a process that
 * floods stdout (or writes one endless line) must not grow host memory.
 */
import { StringDecoder } from 'node:string_decoder';

/** Longer lines are emitted in pieces of this many characters. */
export const MAX_LINE_CHARS = 16 * 1024;

export interface LineSplitter {
  push(chunk: Buffer): void;
  /** Emits the partial last line, if any. */
  end(): void;
}

export function createLineSplitter(onLine: (line: string) => void): LineSplitter {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const take = (text: string): void => {
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      emit(partial + text.slice(start, nl));
      partial = '';
      start = nl + 1;
    }
    partial += text.slice(start);
    while (partial.length >= MAX_LINE_CHARS) {
      onLine(partial.slice(0, MAX_LINE_CHARS));
      partial = partial.slice(MAX_LINE_CHARS);
    }
  };
  const emit = (line: string): void => {
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
    for (let i = 0; i < clean.length || i === 0; i += MAX_LINE_CHARS) onLine(clean.slice(i, i + MAX_LINE_CHARS));
  };
  return {
    push: (chunk) => take(decoder.write(chunk)),
    end() {
      take(decoder.end());
      if (partial.length > 0) emit(partial);
      partial = '';
    },
  };
}
