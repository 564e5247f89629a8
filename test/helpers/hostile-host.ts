/**
 * A host of the hostile-job suite, run as a process of its own (test/fixtures/e2e/hostile-host.ts), and what the suite
 * reads from it: runs checked against the run-row contract, the fires of an every-second job over a window, how long
 * /healthz takes while a job misbehaves, and how many bytes reached the host's own stdout.
 *
 * A case that takes the host down fails with the host's last words (the tail of its stderr). The death is kept with
 * the case's name, and the next case gets a fresh host (new data folder, projects set up again), so one crash does not
 * hide what the later cases would show; the suite's last test reports every death.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostOptions } from '../../host/config/index.js';
import { ADMIN_PASSWORD, Api, exited, freePort, sleep } from './host.js';
import { isAlive } from './processes.js';
import { checkRunContract, type ContractRun } from './run-contract.js';
import { listRuns } from './runs.js';

const LAUNCHER = new URL('../fixtures/e2e/hostile-host.js', import.meta.url);
const STDERR_TAIL_CHARS = 4_000;
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'KILLED', 'SKIPPED', 'INTERRUPTED']);

export interface HostDeath {
  /** The case that ran when the host process ended. */
  readonly during: string;
  readonly how: string;
  /** The tail of its stderr, then of its own log file (warnings and errors). */
  readonly stderr: string;
}

/** The scheduled fires of one job whose fire times fall in a window of whole seconds. */
export interface FireCount {
  readonly expected: number;
  readonly succeeded: number;
  /** Fires of the window without a SUCCEEDED run (no row, SKIPPED, FAILED, INTERRUPTED, still waiting). */
  readonly lost: number;
  readonly statuses: Readonly<Record<string, number>>;
  /** Each lost fire as "+<seconds into the window> <status or 'no run'>", in order. */
  readonly lostAt: readonly string[];
  readonly failed: readonly ContractRun[];
  /** p99 of startedAt - scheduledAt over the SUCCEEDED runs. */
  readonly lagP99Ms: number | null;
}

export interface HealthProbe<T> {
  readonly value: T;
  readonly probes: number;
  readonly maxMs: number;
  readonly p50Ms: number;
  readonly failures: number;
}

export interface HostileHostOptions<S> {
  readonly name: string;
  readonly options: HostOptions;
  /** Sets up a fresh host (projects, bundles, jobs); runs again on each replacement host. */
  readonly setup: (host: HostileHost<S>) => Promise<S>;
}

export class HostileHost<S> {
  readonly deaths: HostDeath[] = [];
  /** Pids of processes job code started that a test looks for; stop() kills those still there. */
  readonly leftovers = new Set<number>();
  /** Bytes the host process wrote to its stdout (its own log does not go there: only what jobs wrote past it). */
  stdoutBytes = 0;
  /** Fires are counted from here: the first whole second after this host's every-second jobs surely fire. */
  firingSince = 0;
  #child: ChildProcess | null = null;
  #ended: string | null = null;
  #stopping = false;
  #stderr = '';
  #current = 'setup';
  #api: Api | null = null;
  #url = '';
  #setup: S | null = null;
  readonly #dataDirs: string[] = [];

  constructor(private readonly opts: HostileHostOptions<S>) {}

  get api(): Api {
    assert.ok(this.#api, `${this.opts.name}: no host`);
    return this.#api;
  }
  get url(): string {
    return this.#url;
  }
  get setup(): S {
    assert.ok(this.#setup, `${this.opts.name}: not set up`);
    return this.#setup;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  get alive(): boolean {
    return this.#child !== null && this.#ended === null;
  }

  /** Names the case that runs now, and starts a host when there is none yet or the last one died. */
  async begin(caseName: string): Promise<void> {
    this.#current = caseName;
    if (!this.alive) await this.#start();
  }

  /** The host process still runs and answers /healthz with 200; otherwise fails with how it ended. */
  async assertAlive(): Promise<void> {
    if (!this.alive) assert.fail(this.#deathNote());
    const res = await fetch(`${this.#url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(res.status, 200, `${this.opts.name}: /healthz answered ${res.status}`);
  }

  async project(name: string, trusted: boolean, bundle: Buffer, trustedField: boolean): Promise<number> {
    const res = await this.api.post('/api/v1/projects', { name, ...(trusted && trustedField ? { trusted: true } : {}) });
    assert.equal(res.status, 201, `create project ${name}: ${res.text}`);
    const upload = await this.api.upload(res.body.id, bundle);
    assert.equal(upload.status, 201, `upload to project ${name}: ${upload.text}`);
    return res.body.id;
  }

  async job(body: Record<string, unknown>): Promise<number> {
    const res = await this.api.post('/api/v1/jobs', body);
    assert.equal(res.status, 201, `create job ${String(body.name)}: ${res.text}`);
    return res.body.id;
  }

  async trigger(jobId: number, params?: unknown): Promise<string> {
    const res = await this.api.post(`/api/v1/jobs/${jobId}/trigger`, params === undefined ? undefined : { params });
    assert.equal(res.status, 202, `trigger job ${jobId}: ${res.text}`);
    return res.body.runId;
  }

  /** Polls the run until it has a final status and returns it checked against the contract; fails early if the host died. */
  async finished(runId: string, timeoutMs = 30_000): Promise<ContractRun> {
    const deadline = Date.now() + timeoutMs;
    let last = 'never read';
    for (;;) {
      if (!this.alive) assert.fail(`run ${runId} never ended: ${this.#deathNote()}`);
      try {
        const res = await this.api.get<ContractRun>(`/api/v1/runs/${runId}`);
        if (res.status === 200 && FINAL.has(res.body.status)) return checkRunContract(res.body);
        last = res.status === 200 ? res.body.status : `${res.status} ${res.text.slice(0, 200)}`;
      } catch (err) {
        last = String(err);
      }
      if (Date.now() > deadline) assert.fail(`run ${runId} did not end within ${timeoutMs} ms (last seen: ${last})`);
      await sleep(100);
    }
  }

  async runOnce(jobId: number, params?: unknown, timeoutMs?: number): Promise<ContractRun> {
    return this.finished(await this.trigger(jobId, params), timeoutMs);
  }

  /** Every run of the job (newest first), each finished one checked against the contract. */
  runsOf(jobId: number): Promise<ContractRun[]> {
    return listRuns(this.api, `jobId=${jobId}&limit=1000`);
  }

  /** The job's scheduled fires in [from, to): one expected per whole second. */
  async fires(jobId: number, from: number, to: number): Promise<FireCount> {
    const first = Math.ceil(from / 1000) * 1000;
    const expected = Math.max(0, Math.ceil(to / 1000) - first / 1000);
    const runs = (await this.runsOf(jobId)).filter((r) => {
      const at = Date.parse(r.scheduledAt);
      return r.trigger === 'SCHEDULE' && at >= first && at < to;
    });
    const statuses: Record<string, number> = {};
    for (const run of runs) statuses[run.status] = (statuses[run.status] ?? 0) + 1;
    const ok = runs.filter((r) => r.status === 'SUCCEEDED');
    const bySecond = new Map(runs.map((r) => [Date.parse(r.scheduledAt), r.status]));
    const lostAt: string[] = [];
    for (let at = first; at < to; at += 1000) {
      const status = bySecond.get(at);
      if (status !== 'SUCCEEDED') lostAt.push(`+${(at - first) / 1000}s ${status ?? 'no run'}`);
    }
    const lags = ok.map((r) => Date.parse(r.startedAt!) - Date.parse(r.scheduledAt)).sort((a, b) => a - b);
    return {
      expected,
      succeeded: ok.length,
      lost: Math.max(0, expected - ok.length),
      statuses,
      lostAt,
      failed: runs.filter((r) => r.status === 'FAILED'),
      lagP99Ms: lags.length === 0 ? null : lags[Math.min(lags.length - 1, Math.floor(lags.length * 0.99))]!,
    };
  }

  /** Times GET /healthz every 100 ms until `work` settles. */
  async healthDuring<T>(work: Promise<T>): Promise<HealthProbe<T>> {
    let done = false;
    const settled = work.finally(() => {
      done = true;
    });
    const times: number[] = [];
    let failures = 0;
    while (!done) {
      const start = performance.now();
      try {
        const res = await fetch(`${this.#url}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.status === 200) times.push(performance.now() - start);
        else failures++;
      } catch {
        failures++;
        if (!this.alive) break;
      }
      await Promise.race([settled.catch(() => undefined), sleep(100)]);
    }
    const value = await settled;
    times.sort((a, b) => a - b);
    return {
      value,
      probes: times.length,
      maxMs: Math.round(times[times.length - 1] ?? 0),
      p50Ms: Math.round(times[Math.floor(times.length / 2)] ?? 0),
      failures,
    };
  }

  /** The host process's resident memory now and at its peak, in MB (from /proc). */
  async memoryMb(): Promise<{ rss: number; peak: number } | null> {
    if (!this.alive || this.pid === undefined) return null;
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8').catch(() => '');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (child && this.alive) {
      child.kill('SIGTERM');
      const ended = await Promise.race([exited(child), sleep(15_000).then(() => null)]);
      if (!ended) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    for (const pid of this.leftovers) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    for (const dir of this.#dataDirs) await rm(dir, { recursive: true, force: true });
  }

  #deathNote(): string {
    const death = this.deaths[this.deaths.length - 1];
    if (!death) return `${this.opts.name}: no host process`;
    return `${this.opts.name}: the host process ended (${death.how}) during "${death.during}"; its stderr ends with:\n${death.stderr}`;
  }

  async #start(): Promise<void> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), `jc-hostile-${this.opts.name}-`));
    this.#dataDirs.push(dataDir);
    const port = await freePort();
    const options: HostOptions = { ...this.opts.options, port, bind: '127.0.0.1', dataDir, adminPassword: ADMIN_PASSWORD };
    const child = spawn(process.execPath, ['--no-node-snapshot', fileURLToPath(LAUNCHER), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#ended = null;
    this.#stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      this.stdoutBytes += chunk.length;
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    child.once('exit', (code, signal) => {
      this.#ended = signal ? `signal ${signal}` : `exit code ${code}`;
      if (!this.#stopping) this.deaths.push({ during: this.#current, how: this.#ended, stderr: this.#stderr + hostLogTail(dataDir) });
    });
    this.#url = `http://127.0.0.1:${port}`;
    await this.#waitHealthy();
    this.#api = await Api.login(this.#url, 'admin', ADMIN_PASSWORD);
    this.#setup = await this.opts.setup(this);
    // The every-second jobs were created last: their first fire is within the next second or two.
    this.firingSince = Math.ceil(Date.now() / 1000) * 1000 + 2_000;
  }

  async #waitHealthy(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!this.alive) assert.fail(`${this.opts.name}: the host did not start (${this.#ended}): ${this.#stderr}`);
      try {
        if ((await fetch(`${this.#url}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) assert.fail(`${this.opts.name}: the host was not healthy after 30 s: ${this.#stderr}`);
      await sleep(100);
    }
  }
}

/** The end of the newest file of the host's own log (logs/host/<month>/<day>.log), read as the process is found dead. */
function hostLogTail(dataDir: string): string {
  const dir = path.join(dataDir, 'logs', 'host');
  try {
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.log')).sort();
    const newest = files[files.length - 1];
    if (!newest) return '';
    return `\n[host log ${newest}]\n${readFileSync(path.join(dir, newest), 'utf8').slice(-STDERR_TAIL_CHARS)}`;
  } catch {
    return '';
  }
}
