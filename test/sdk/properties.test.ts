import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProperties, PropertiesSyntaxError } from '@jobcenter/sdk';

describe('parseProperties', () => {
  test('it reads key=value, key: value and key value pairs', () => {
    assert.deepEqual(parseProperties('a=1\nb: 2\nc 3\nd\t=\t4\ne   :five'), { a: '1', b: '2', c: '3', d: '4', e: 'five' });
  });

  test('it skips # and ! comments and blank lines, and ignores leading whitespace', () => {
    const text = '# comment\n  ! also a comment\n\n   \n   key = value\n\t other=x';
    assert.deepEqual(parseProperties(text), { key: 'value', other: 'x' });
  });

  test('it keeps separators after the first one as part of the value', () => {
    assert.deepEqual(parseProperties('url=jdbc:mysql://db:3306/app?a=b'), { url: 'jdbc:mysql://db:3306/app?a=b' });
    assert.deepEqual(parseProperties('key = = x'), { key: '= x' });
  });

  test('it joins a line ending in a backslash with the next, dropping the next line\'s leading whitespace', () => {
    assert.deepEqual(parseProperties('list = a, \\\n    b, \\\n    c\nnext=1'), { list: 'a, b, c', next: '1' });
  });

  test('it does not continue a line ending in an escaped backslash', () => {
    assert.deepEqual(parseProperties('path = C:\\\\\nnext = 1'), { path: 'C:\\', next: '1' });
  });

  test('it decodes \\t \\n \\\\ and \\uXXXX escapes, and an escaped character otherwise stands for itself', () => {
    assert.deepEqual(parseProperties('a = x\\ty\\nz\nb = back\\\\slash\nc = \\u00e9t\\u00E9\nd = \\q\\#'), {
      a: 'x\ty\nz',
      b: 'back\\slash',
      c: 'été',
      d: 'q#',
    });
  });

  test('it allows escaped separators and spaces inside keys', () => {
    assert.deepEqual(parseProperties('my\\ key\\=x\\:y = v'), { 'my key=x:y': 'v' });
  });

  test('a key given twice keeps its later value', () => {
    assert.deepEqual(parseProperties('k=1\nk=2'), { k: '2' });
  });

  test('a key without a value maps to the empty string and trailing whitespace of a value is kept', () => {
    assert.deepEqual(parseProperties('empty\nalso=\nspaced = v  '), { empty: '', also: '', spaced: 'v  ' });
  });

  test('it accepts CRLF and CR line endings and a byte order mark', () => {
    assert.deepEqual(parseProperties('\uFEFFa=1\r\nb=2\rc=3'), { a: '1', b: '2', c: '3' });
  });

  test('a malformed \\u escape is an error naming the line', () => {
    assert.throws(() => parseProperties('ok=1\nbad=\\u12x4'), (err: unknown) => {
      assert.ok(err instanceof PropertiesSyntaxError);
      assert.equal(err.code, 'PROPERTIES_SYNTAX');
      assert.match(err.message, /line 2/);
      return true;
    });
  });
});
