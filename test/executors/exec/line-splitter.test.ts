import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLineSplitter, MAX_LINE_CHARS } from '../../../host/executors/exec/line-splitter.js';

function split(chunks: Buffer[]): string[] {
  const lines: string[] = [];
  const splitter = createLineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

test('lines split across chunks are joined and a partial last line is kept', () => {
  assert.deepEqual(split([Buffer.from('one\ntw'), Buffer.from('o\r\nthree')]), ['one', 'two', 'three']);
});

test('a multi-byte character split across chunks survives', () => {
  const bytes = Buffer.from('grüße\n');
  assert.deepEqual(split([bytes.subarray(0, 3), bytes.subarray(3)]), ['grüße']);
});

test('an endless line is emitted in bounded pieces', () => {
  const lines = split([Buffer.from('x'.repeat(MAX_LINE_CHARS * 2 + 5))]);
  assert.deepEqual(lines.map((l) => l.length), [MAX_LINE_CHARS, MAX_LINE_CHARS, 5]);
});

test('empty lines are kept as empty lines', () => {
  assert.deepEqual(split([Buffer.from('a\n\nb\n')]), ['a', '', 'b']);
});
