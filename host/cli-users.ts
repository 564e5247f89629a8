/**
 * `jobcenter users reset-password NAME`: the way back to a lost password, straight on the database (the data
 * folder's SQLite file, or the one --db names), with or without a host running on it. The password is read from the
 * terminal or from standard input, never from the command line, where other users of the machine could read it.
 */
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { compileConfig, optionsFromEnv, type HostOptions } from './config/index.js';
import { silentLogger } from './log/logger.js';
import { AuthService } from './services/auth.js';
import { createStore } from './store/index.js';

export const USERS_HELP = `Usage: jobcenter users reset-password NAME [options]

Sets a new password for user NAME in the host's database and revokes every session and API token of that user, as
a password change does. This is the way back to a lost admin password: JOBCENTER_ADMIN_PASSWORD only sets the first
admin's password, on an empty database. A host running on the database may stay up; it stops accepting the revoked
tokens within 2 seconds.

The new password is asked on the terminal (twice, not shown), or read with --password-stdin from standard input
(its first line). It cannot be given as an argument: other users of the machine could read it (ps, shell history).

Options (environment variable in brackets):
  --data-dir DIR      the host's data folder, whose SQLite database is used (JOBCENTER_DATA_DIR, default ./data)
  --db URL            another database: sqlite:FILE or mysql://user:pass@host:3306/db (JOBCENTER_DB_URL)
  --password-stdin    read the new password from standard input
  -h, --help          show this help
`;

/** Why the command could not do what was asked; the message is all the user needs (no stack). */
class UsageError extends Error {}

/** Runs `jobcenter users …` (argv after "users"); resolves with the exit code. */
export async function usersCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseUsersArgs>;
  try {
    parsed = parseUsersArgs(argv);
  } catch (err) {
    process.stderr.write(`jobcenter users: ${(err as Error).message}\n\n${USERS_HELP}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(USERS_HELP);
    return 0;
  }
  try {
    const password = parsed.fromStdin ? await passwordFromStdin() : await passwordFromTerminal(parsed.username);
    const revoked = await resetPassword(parsed.options, parsed.username, password);
    process.stdout.write(`jobcenter: the password of user ${parsed.username} was reset; ${revoked} session(s) and API token(s) of the user were revoked\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`jobcenter users reset-password: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

function parseUsersArgs(argv: string[]): 'help' | { username: string; fromStdin: boolean; options: HostOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      db: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) return 'help';
  if (positionals[0] !== 'reset-password') throw new Error(`unknown command ${JSON.stringify(positionals[0])}`);
  if (positionals.length !== 2) throw new Error('reset-password takes one user name (and reads the password from the terminal or stdin)');
  const options: HostOptions = optionsFromEnv();
  if (values['data-dir'] !== undefined) options.dataDir = values['data-dir'];
  if (values.db !== undefined) options.dbUrl = values.db;
  return { username: positionals[1], fromStdin: values['password-stdin'] === true, options };
}

async function resetPassword(options: HostOptions, username: string, password: string): Promise<number> {
  const config = compileConfig(options);
  // Opening a SQLite file that is not there would make an empty database; a mistyped folder should say so instead.
  if (config.db.dialect === 'sqlite' && !existsSync(config.db.file)) {
    throw new Error(`there is no database at ${config.db.file}: is ${config.dataDir} the host's data folder (--data-dir)?`);
  }
  const store = await createStore(config.db, silentLogger);
  try {
    return await new AuthService(store, silentLogger, config.loginLimits).resetPassword(username, password);
  } finally {
    await store.close();
  }
}

/** The first line of standard input. */
async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}

async function passwordFromTerminal(username: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new UsageError('standard input is not a terminal: pass --password-stdin to read the new password from it');
  }
  // One interface for both questions: a second one would miss what the first had already read ahead.
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: silent, terminal: true });
  /** Asks on stderr; what is typed is not echoed (readline echoes to its output, which drops everything). */
  const ask = async (question: string): Promise<string> => {
    process.stderr.write(question);
    const answer = await rl.question('');
    process.stderr.write('\n');
    return answer;
  };
  try {
    const first = await ask(`New password for ${username}: `);
    if (first !== (await ask('Again: '))) throw new UsageError('the two passwords differ; nothing was changed');
    return first;
  } finally {
    rl.close();
  }
}
