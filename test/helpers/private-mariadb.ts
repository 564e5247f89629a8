/**
 * A MariaDB server of a test's own: its own data folder (mariadb-install-db) and port, started and stopped by the
 * test, so it can take the database away under a running host (a fault test) without touching the shared server.
 *
 *   const server = await PrivateMariadb.create();
 *   const url = server.url;            // mysql://root@127.0.0.1:<port>/jobcenter
 *   await server.stop(); await server.start();
 *   await server.destroy();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';

const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';

export class PrivateMariadb {
  #process: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly extraArgs: readonly string[],
  ) {}

  /** Installs a fresh data folder, starts the server and creates the database `jobcenter`. */
  static async create(opts: { extraArgs?: string[] } = {}): Promise<PrivateMariadb> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'jc-mariadb-'));
    await run(INSTALL_DB, ['--no-defaults', `--datadir=${path.join(dir, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root']);
    const server = new PrivateMariadb(dir, await freePort(), opts.extraArgs ?? []);
    await server.start();
    const connection = await mysql.createConnection(server.serverUrl);
    try {
      await connection.query('CREATE DATABASE jobcenter CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
    } finally {
      await connection.end();
    }
    return server;
  }

  get serverUrl(): string {
    return `mysql://root@127.0.0.1:${this.port}/`;
  }

  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}/jobcenter`;
  }

  async start(): Promise<void> {
    if (this.#process) return;
    const child = spawn(MARIADBD, [
      '--no-defaults', `--datadir=${path.join(this.dir, 'data')}`, `--port=${this.port}`, '--bind-address=127.0.0.1',
      `--socket=${path.join(this.dir, 'mariadb.sock')}`, `--pid-file=${path.join(this.dir, 'mariadb.pid')}`, '--user=root',
      '--skip-grant-tables', '--skip-log-bin', '--innodb-buffer-pool-size=64M', '--max-connections=200', ...this.extraArgs,
    ], { stdio: 'ignore' });
    this.#process = child;
    child.once('exit', () => {
      if (this.#process === child) this.#process = null;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const connection = await mysql.createConnection(this.serverUrl);
        await connection.end();
        return;
      } catch (err) {
        if (Date.now() > deadline || !this.#process) throw new Error(`private MariaDB on port ${this.port} did not start: ${String(err)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** A clean shutdown (SIGTERM); resolves once the server has exited. */
  async stop(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}: ${stderr.slice(-2_000)}`))));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
