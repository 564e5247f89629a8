/**
 * Java `.properties` parsing, so config files written for the original (Java) JobCenter keep their meaning.
 */

/** Raised for text that Java's `Properties.load` would refuse too (a malformed `\uXXXX` escape). */
export class PropertiesSyntaxError extends Error {
  readonly code = 'PROPERTIES_SYNTAX';
  constructor(message: string, readonly line: number) {
    super(`${message} (line ${line})`);
    this.name = 'PropertiesSyntaxError';
  }
}

const WHITESPACE = new Set([' ', '\t', '\f']);
const ESCAPES: Readonly<Record<string, string>> = { t: '\t', n: '\n', r: '\r', f: '\f' };

/**
 * Parses the text of a `.properties` file the way Java's `Properties.load` does: `key=value`, `key: value` and
 * `key value` pairs, `#` and `!` comment lines, leading whitespace ignored, a line ending in an odd number of
 * backslashes continues on the next, escapes `\t \n \r \f \\ \uXXXX` (any other escaped character stands for
 * itself), and a key given twice keeps its later value. Values keep their trailing whitespace, as in Java.
 *
 * @example
 * ```ts
 * import { parseProperties } from '@jobcenter/sdk';
 * parseProperties('# db\nurl = jdbc:mysql://db/app\nmotd: hello \\\n  world\n');
 * // → { url: 'jdbc:mysql://db/app', motd: 'hello world' }
 * ```
 */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { text: line, number } of logicalLines(text.replace(/^\uFEFF/, ''))) {
    const [rawKey, rawValue] = splitKeyValue(line);
    out[unescape(rawKey, number)] = unescape(rawValue, number);
  }
  return out;
}

interface LogicalLine {
  readonly text: string;
  /** 1-based number of the natural line the logical line starts on (for error messages). */
  readonly number: number;
}

/** Joins continued lines and drops blank and comment lines; each result starts at its first non-blank char. */
function logicalLines(text: string): LogicalLine[] {
  const natural = text.split(/\r\n|\r|\n/);
  const lines: LogicalLine[] = [];
  for (let i = 0; i < natural.length; i++) {
    const first = stripLeading(natural[i]);
    if (first === '' || first.startsWith('#') || first.startsWith('!')) continue;
    const number = i + 1;
    let joined = first;
    while (endsWithOddBackslashes(joined)) {
      joined = joined.slice(0, -1);
      i++;
      // A continuation at the very end of the file just ends the value (Java does the same).
      if (i >= natural.length) break;
      joined += stripLeading(natural[i]);
    }
    lines.push({ text: joined, number });
  }
  return lines;
}

function stripLeading(line: string): string {
  let start = 0;
  while (start < line.length && WHITESPACE.has(line[start])) start++;
  return line.slice(start);
}

function endsWithOddBackslashes(line: string): boolean {
  let count = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) count++;
  return count % 2 === 1;
}

/** The key ends at the first unescaped `=`, `:` or whitespace; one `=`/`:` after whitespace also separates. */
function splitKeyValue(line: string): [string, string] {
  let end = 0;
  while (end < line.length) {
    const ch = line[end];
    if (ch === '\\') {
      end += 2;
      continue;
    }
    if (ch === '=' || ch === ':' || WHITESPACE.has(ch)) break;
    end++;
  }
  const key = line.slice(0, Math.min(end, line.length));
  let rest = end;
  while (rest < line.length && WHITESPACE.has(line[rest])) rest++;
  if (rest < line.length && (line[rest] === '=' || line[rest] === ':')) rest++;
  while (rest < line.length && WHITESPACE.has(line[rest])) rest++;
  return [key, line.slice(rest)];
}

function unescape(raw: string, lineNumber: number): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch !== '\\' || i === raw.length - 1) {
      out += ch;
      continue;
    }
    const next = raw[++i];
    if (next === 'u') {
      const hex = raw.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PropertiesSyntaxError(`malformed \\uXXXX escape "\\u${hex}"`, lineNumber);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += ESCAPES[next] ?? next;
    }
  }
  return out;
}
