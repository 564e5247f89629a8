/**
 * A MariaDB server of a test's own: a fresh data folder, its own port and socket, started with the options the test
 * gives (e.g. a global sql_mode of NO_BACKSLASH_ESCAPES). Settings that would leak into the suites sharing the
 * machine's server (SET GLOBAL) stay private this way. It starts in about 2 s (most of it mariadb-install-db).
 *
 *   const server = await startPrivateMariadb(['--sql-mode=NO_BACKSLASH_ESCAPES']);
 *   try { … server.url … } finally { await server.stop(); }
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { exited, freePort, sleep } from './host.js';

const SERVER = '/usr/sbin/mariadbd';
const INSTALL = '/usr/bin/mariadb-install-db';

export interface PrivateMariadb {
  /** mysql://root@127.0.0.1:<port>/jobcenter, an empty utf8mb4 database. */
  url: string;
  /** Stops the server and removes its data folder. */
  stop(): Promise<void>;
}

/** Why a private server cannot start here, or undefined when it can. */
export function privateMariadbSkipReason(): string | undefined {
  return existsSync(SERVER) && existsSync(INSTALL) ? undefined : `no ${SERVER} and ${INSTALL} on this machine to start a private MariaDB server`;
}

export async function startPrivateMariadb(serverOptions: string[]): Promise<PrivateMariadb> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-mariadb-'));
  const data = path.join(dir, 'data');
  // --no-defaults: the machine's my.cnf names a user, a log file and a port of its own server.
  const install = spawnSync(INSTALL, ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], {
    encoding: 'utf8',
  });
  if (install.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.status}): ${install.stdout}${install.stderr}`);
  }
  const port = await freePort();
  const log = path.join(dir, 'server.log');
  const server = spawn(
    SERVER,
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${data}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${path.join(dir, 'mariadb.sock')}`,
      `--pid-file=${path.join(dir, 'mariadb.pid')}`,
      `--log-error=${log}`,
      '--skip-log-bin',
      '--innodb-buffer-pool-size=32M',
      ...serverOptions,
    ],
    { stdio: 'ignore' },
  );
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      const killer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await exited(server);
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = `mysql://root@127.0.0.1:${port}/jobcenter`;
  try {
    await untilReady(port, server, log);
    const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
    await connection.query('CREATE DATABASE jobcenter CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
    await connection.end();
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}

async function untilReady(port: number, server: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      await connection.end();
      return;
    } catch (err) {
      if (server.exitCode !== null || Date.now() > deadline) {
        const tail = await readFile(log, 'utf8').catch(() => '');
        throw new Error(`the private MariaDB server did not start: ${String(err)}\n${tail.slice(-2_000)}`);
      }
    }
    await sleep(100);
  }
}
