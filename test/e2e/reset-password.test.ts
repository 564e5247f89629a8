/**
 * The way back to a lost admin password, on SQLite (the data folder) and MariaDB: `jobcenter users reset-password`
 * as a child process beside a running host, then a login over the API with the new password; the sessions and
 * tokens made before it stop working. A later start with JOBCENTER_ADMIN_PASSWORD set says it was ignored.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testDatabases, type MadeDatabase } from '../helpers/db.js';
import { ADMIN_PASSWORD, Api, dbUrl, eventually, exited, freePort, REPO, spawnHost, startHost, waitForHealthy, type TestHost } from '../helpers/host.js';

const NEW_PASSWORD = 'a-brand-new-password';

interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

for (const database of testDatabases()) {
  describe(`jobcenter users reset-password on ${database.name}`, { skip: database.skip }, () => {
    let made: MadeDatabase | undefined;
    let dataDir: string;
    let th: TestHost | undefined;

    /** `jobcenter users <args>` on this suite's database (SQLite: the data folder's; MariaDB: JOBCENTER_DB_URL). */
    function users(args: string[], stdin: string): Promise<Done> {
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (made) env.JOBCENTER_DB_URL = dbUrl(made.db);
      const argv = [path.join(REPO, 'bin', 'jobcenter.js'), 'users', ...args, '--data-dir', dataDir];
      const child = spawn(process.execPath, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdin.end(stdin);
      return exited(child).then(({ code }) => ({ code, stdout, stderr }));
    }

    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'jc-reset-'));
      if (database.name === 'mysql') made = await database.make();
      th = await startHost({ dataDir, db: made?.db });
    });

    after(async () => {
      await th?.stop();
      await made?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('a reset beside a running host sets the password and revokes the sessions and tokens made before it', async () => {
      const apiToken = new Api(th!.url, (await th!.api.post('/api/v1/tokens', { name: 'ci' })).body.token);
      for (const api of [th!.api, apiToken]) assert.equal((await api.get('/api/v1/auth/me')).status, 200);
      const done = await users(['reset-password', 'admin', '--password-stdin'], `${NEW_PASSWORD}\n`);
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /the password of user admin was reset; 2 session\(s\) and API token\(s\) of the user were revoked/);
      const fresh = await Api.login(th!.url, 'admin', NEW_PASSWORD);
      assert.equal((await fresh.get('/api/v1/auth/me')).status, 200);
      await assert.rejects(Api.login(th!.url, 'admin', ADMIN_PASSWORD), /401/);
      for (const api of [th!.api, apiToken]) {
        await eventually('the old token refused', async () => ((await api.get('/api/v1/auth/me')).status === 401 ? true : undefined));
      }
    });

    test('a bad name, a short password, a password on the command line or no terminal are refused, changing nothing', async () => {
      const unknown = await users(['reset-password', 'nobody', '--password-stdin'], `${NEW_PASSWORD}\n`);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no user is named nobody; the users are: admin/);
      const short = await users(['reset-password', 'admin', '--password-stdin'], 'short\n');
      assert.equal(short.code, 1);
      assert.match(short.stderr, /password must be a string of 8 to 200 characters/);
      const inArgv = await users(['reset-password', 'admin', '--password', 'in-the-argv-123'], '');
      assert.equal(inArgv.code, 2);
      assert.match(inArgv.stderr, /Unknown option '--password'/);
      const noTerminal = await users(['reset-password', 'admin'], `${NEW_PASSWORD}\n`);
      assert.equal(noTerminal.code, 2);
      assert.match(noTerminal.stderr, /standard input is not a terminal: pass --password-stdin/);
      assert.equal((await (await Api.login(th!.url, 'admin', NEW_PASSWORD)).get('/api/v1/auth/me')).status, 200);
    });

    test('a later start with JOBCENTER_ADMIN_PASSWORD set logs that it was ignored, and keeps the reset password', async () => {
      await th!.stop();
      th = undefined;
      const port = await freePort();
      const child = spawnHost({ dataDir, port, db: made?.db });
      let stdout = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      try {
        await waitForHealthy(`http://127.0.0.1:${port}`);
        await eventually('the warning', async () => (stdout.includes('JOBCENTER_ADMIN_PASSWORD was ignored') ? true : undefined));
        assert.match(stdout, /WARN .*JOBCENTER_ADMIN_PASSWORD was ignored: .* To set a lost password: jobcenter users reset-password NAME/);
        assert.equal((await (await Api.login(`http://127.0.0.1:${port}`, 'admin', NEW_PASSWORD)).get('/api/v1/auth/me')).status, 200);
        await assert.rejects(Api.login(`http://127.0.0.1:${port}`, 'admin', ADMIN_PASSWORD), /401/);
      } finally {
        child.kill('SIGTERM');
        await exited(child);
      }
    });
  });
}

describe('jobcenter users without a database', () => {
  test('a data folder without a database is named, and none is made', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'jc-reset-empty-'));
    try {
      const child = spawn(process.execPath, [path.join(REPO, 'bin', 'jobcenter.js'), 'users', 'reset-password', 'admin', '--password-stdin', '--data-dir', empty], {
        env: { ...process.env, JOBCENTER_DB_URL: '' },
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdin!.end(`${NEW_PASSWORD}\n`);
      assert.equal((await exited(child)).code, 1);
      assert.match(stderr, /there is no database at .*: is .* the host's data folder \(--data-dir\)\?/);
      assert.deepEqual(await readdir(empty), [], 'no database file was made');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
