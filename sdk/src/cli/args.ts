/**
 * Argument parsing shared by the commands: node's own parseArgs, with errors turned into CliErrors that say which
 * command's --help to read.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** An error meant for the user: printed as its message alone (no stack), exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

/** Parses `argv` for `command`; unknown flags and missing values become a CliError. */
export function parse(command: string, argv: string[], options: Options): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    throw new CliError(`${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}\n(see: jobcenter-sdk ${command} --help)`);
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** A JSON flag value, e.g. `--params '{"name":"Ada"}'`. */
export function json(p: Parsed, name: string): unknown {
  const text = str(p, name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`--${name} must be JSON: ${(err as Error).message}`);
  }
}

/** A positive whole number flag value, e.g. `--timeout 5000`. */
export function positiveInt(p: Parsed, name: string): number | undefined {
  const text = str(p, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`--${name} must be a positive whole number, got "${text}"`);
  return n;
}
