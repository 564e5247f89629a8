/**
 * A MariaDB server of a test's own: a fresh data folder (mariadb-install-db), its own port and socket, started with
 * the options the test gives (e.g. a global sql_mode of NO_BACKSLASH_ESCAPES), and stopped and started again by the
 * test (a fault test takes the database away under a running host). Settings that would leak into the suites sharing
 * the machine's server (SET GLOBAL) stay private this way. It starts in about 2 s (most of it mariadb-install-db).
 *
 *   const server = await PrivateMariadb.create({ serverOptions: ['--sql-mode=NO_BACKSLASH_ESCAPES'] });
 *   try { … server.url …; await server.stop(); await server.start(); } finally { await server.destroy(); }
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

/** Why a private server cannot start here, or undefined when it can. */
export function privateMariadbSkipReason(): string | undefined {
  return existsSync(SERVER) && existsSync(INSTALL) ? undefined : `no ${SERVER} and ${INSTALL} on this machine to start a private MariaDB server`;
}

export class PrivateMariadb {
  #server: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly serverOptions: readonly string[],
  ) {}

  /** Installs a fresh data folder, starts the server and creates the empty utf8mb4 database `jobcenter`. */
  static async create(opts: { serverOptions?: string[] } = {}): Promise<PrivateMariadb> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-mariadb-'));
    // --no-defaults: the machine's my.cnf names a user, a log file and a port of its own server.
    const install = spawnSync(INSTALL, ['--no-defaults', `--datadir=${path.join(dir, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], {
      encoding: 'utf8',
    });
    if (install.status !== 0) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`mariadb-install-db failed (${install.status}): ${install.stdout}${install.stderr}`);
    }
    const server = new PrivateMariadb(dir, await freePort(), opts.serverOptions ?? []);
    try {
      await server.start();
      const connection = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root' });
      await connection.query('CREATE DATABASE jobcenter CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
      await connection.end();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  /** mysql://root@127.0.0.1:<port>/jobcenter */
  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}/jobcenter`;
  }

  /** Starts the server on its data folder (again, after stop()); resolves once it takes connections. */
  async start(): Promise<void> {
    if (this.#server) return;
    const log = path.join(this.dir, 'server.log');
    const server = spawn(
      SERVER,
      [
        '--no-defaults', '--user=root', `--datadir=${path.join(this.dir, 'data')}`, `--port=${this.port}`, '--bind-address=127.0.0.1',
        `--socket=${path.join(this.dir, 'mariadb.sock')}`, `--pid-file=${path.join(this.dir, 'mariadb.pid')}`, `--log-error=${log}`,
        '--skip-log-bin', '--innodb-buffer-pool-size=32M', '--max-connections=200', ...this.serverOptions,
      ],
      { stdio: 'ignore' },
    );
    this.#server = server;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const connection = await mysql.createConnection({ host: '127.0.0.1', port: this.port, user: 'root' });
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

  /** A clean shutdown (SIGTERM, SIGKILL after 10 s); resolves once the server has exited. Its data stays. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    server.kill('SIGTERM');
    const killer = setTimeout(() => server.kill('SIGKILL'), 10_000);
    await exited(server);
    clearTimeout(killer);
  }

  /** Stops the server and removes its data folder. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
